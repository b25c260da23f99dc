//! The flat `<xml><name>value</name>…</xml>` messages of WeChat Pay v2, through quick-xml.

use super::Params;
use quick_xml::Reader;
use quick_xml::events::{BytesCData, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::writer::Writer;

#[derive(Debug, thiserror::Error)]
#[error("not a WeChat Pay XML message: {0}")]
pub struct XmlError(String);

/// Every child of the root element, as text (CDATA or plain).
pub fn parse(text: &str) -> Result<Params, XmlError> {
    let mut r = Reader::from_str(text);
    r.config_mut().trim_text(true);
    let mut out = Params::new();
    let mut depth = 0;
    let mut current: Option<String> = None;
    let mut value = String::new();
    loop {
        match r.read_event().map_err(|e| XmlError(e.to_string()))? {
            Event::Start(e) => {
                depth += 1;
                if depth == 2 {
                    current = Some(e.name().as_ref().to_string());
                    value.clear();
                }
                // Deeper elements (gethbinfo's <hblist>) are not flat parameters: skipped.
            }
            Event::Empty(e) if depth == 1 => {
                out.insert(e.name().as_ref().to_string(), String::new());
            }
            Event::Text(t) if depth == 2 && current.is_some() => {
                value.push_str(&t.xml10_content());
            }
            Event::GeneralRef(g) if depth == 2 && current.is_some() => {
                if let Some(c) = g.resolve_char_ref().map_err(|e| XmlError(e.to_string()))? {
                    value.push(c);
                    continue;
                }
                let name = g.into_inner();
                let ch = match name.as_ref() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => return Err(XmlError(format!("unknown entity &{name};"))),
                };
                value.push_str(ch);
            }
            Event::CData(t) if depth == 2 && current.is_some() => value.push_str(&t.into_inner()),
            Event::End(_) => {
                if depth == 2
                    && let Some(k) = current.take()
                {
                    out.insert(k, std::mem::take(&mut value));
                }
                depth -= 1;
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Text(_) | Event::CData(_) | Event::Empty(_) | Event::GeneralRef(_) => {}
        }
    }
    if depth != 0 {
        return Err(XmlError("unbalanced elements".into()));
    }
    Ok(out)
}

/// `<xml>` with one CDATA element per parameter (sorted, as a map iterates).
pub fn write(p: &Params) -> String {
    write_with(p, "")
}

/// As `write`, with an XML fragment (already well-formed) appended inside the root, for the few
/// answers that nest (`<hblist>`).
pub fn write_with(p: &Params, fragment: &str) -> String {
    let mut w = Writer::new(Vec::new());
    let _ = w.write_event(Event::Start(BytesStart::new("xml")));
    for (k, v) in p {
        let _ = w.write_event(Event::Start(BytesStart::new(k.as_str())));
        if v.contains("]]>") {
            let _ = w.write_event(Event::Text(BytesText::new(v)));
        } else {
            let _ = w.write_event(Event::CData(BytesCData::new(v.as_str())));
        }
        let _ = w.write_event(Event::End(BytesEnd::new(k.as_str())));
    }
    let mut out = String::from_utf8(w.into_inner()).expect("XML written from strings is UTF-8");
    out.push_str(fragment);
    out.push_str("</xml>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn round_trip() {
        let mut p = Params::new();
        p.insert("a".into(), "1 & <2>".into());
        p.insert("b".into(), "猜灯谜".into());
        p.insert("c".into(), "x]]>y".into());
        assert_eq!(parse(&write(&p)).unwrap(), p);
        let q = parse("<xml><return_code><![CDATA[SUCCESS]]></return_code><total_amount>1000</total_amount><e/></xml>").unwrap();
        assert_eq!(q["return_code"], "SUCCESS");
        assert_eq!(q["total_amount"], "1000");
        assert_eq!(q["e"], "");
        assert!(parse("<xml><a>1</b></xml>").is_err());
        let nested =
            parse("<xml><a>1</a><hblist><hbinfo><openid>o</openid></hbinfo></hblist></xml>")
                .unwrap();
        assert_eq!(nested["a"], "1");
        assert!(!nested.contains_key("openid"));
    }
}
