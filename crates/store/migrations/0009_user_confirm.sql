-- A 商家转账 waiting for the user to confirm (SPEC §10): the JSON `{"mchId","appId","package"}` the
-- merchant's app passes to wx.requestMerchantTransfer. The package comes only in WeChat's create
-- answer (the query does not return it), so it is kept with the order.
ALTER TABLE orders ADD COLUMN user_confirm TEXT;
