-- A counter that every catalogue write increments, in the same transaction: each serve keeps its
-- catalogue in memory and drops it when the counter moves (so an admin change made through any
-- instance reaches every instance within its poll interval).
CREATE TABLE catalog_version (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO catalog_version (id, version) VALUES (1, 0);
