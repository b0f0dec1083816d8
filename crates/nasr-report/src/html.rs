//! The page: one self-contained HTML document (inline CSS and SVG, no scripts, nothing
//! fetched), built from sections of tables, figures and text.

use std::fmt::Write;

/// `text` with HTML's special characters escaped, for element text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One section of the page: a heading and its blocks, with an `id` a reader (or a test) can
/// find it by.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The element id (`training`, `best-so-far`, ...).
    pub id: String,
    /// The heading.
    pub title: String,
    /// The content, already HTML.
    pub body: String,
}

impl Section {
    /// An empty section.
    pub fn new(id: &str, title: &str) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            body: String::new(),
        }
    }

    /// A paragraph of plain text.
    pub fn text(mut self, text: &str) -> Self {
        let _ = write!(self.body, "<p>{}</p>", escape(text));
        self
    }

    /// A table of `rows` under `header`; cells are plain text.
    pub fn table<R: AsRef<[String]>>(mut self, header: &[&str], rows: &[R]) -> Self {
        self.body.push_str("<table><thead><tr>");
        for h in header {
            let _ = write!(self.body, "<th>{}</th>", escape(h));
        }
        self.body.push_str("</tr></thead><tbody>");
        for row in rows {
            self.body.push_str("<tr>");
            for cell in row.as_ref() {
                let _ = write!(self.body, "<td>{}</td>", escape(cell));
            }
            self.body.push_str("</tr>");
        }
        self.body.push_str("</tbody></table>");
        self
    }

    /// A two-column table of names (in bold) and values.
    pub fn facts(mut self, facts: &[(&str, String)]) -> Self {
        self.body.push_str(r#"<table class="facts"><tbody>"#);
        for (name, value) in facts {
            let _ = write!(
                self.body,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(name),
                escape(value)
            );
        }
        self.body.push_str("</tbody></table>");
        self
    }

    /// A figure: an SVG with a caption; `marks` is how many data marks it draws (written as
    /// `data-marks`, so the page says what each chart holds).
    pub fn figure(mut self, id: &str, caption: &str, svg: &str, marks: usize) -> Self {
        let _ = write!(
            self.body,
            r#"<figure id="{}" data-marks="{marks}">{svg}<figcaption>{}</figcaption></figure>"#,
            escape(id),
            escape(caption)
        );
        self
    }

    /// Preformatted text (a config file).
    pub fn code(mut self, text: &str) -> Self {
        let _ = write!(self.body, "<pre>{}</pre>", escape(text));
        self
    }

    /// Raw HTML.
    pub fn html(mut self, html: &str) -> Self {
        self.body.push_str(html);
        self
    }

    /// The section as HTML.
    pub fn to_html(&self) -> String {
        format!(
            r#"<section id="{}"><h2>{}</h2>{}</section>"#,
            escape(&self.id),
            escape(&self.title),
            self.body
        )
    }
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;\
color:#222;background:#f6f7f9}header{background:#1f3a5f;color:#fff;padding:18px 28px}\
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;opacity:.85}\
main{max-width:980px;margin:0 auto;padding:12px 24px 40px}\
section{background:#fff;border:1px solid #dde;border-radius:6px;padding:8px 18px 14px;\
margin:16px 0}h2{font-size:17px;margin:10px 0}table{border-collapse:collapse;font-size:13px;\
margin:6px 0}td,th{border-bottom:1px solid #e4e4ea;padding:3px 10px;text-align:left;\
vertical-align:top}th{background:#f0f2f6}pre{background:#f4f4f6;padding:8px;overflow:auto;\
font-size:12px;max-height:360px}figure{margin:8px 0}figcaption{font-size:12px;color:#555}\
.chart text{font-size:11px;fill:#333}.chart .axis{font-size:12px}.cell text{font-size:11px}\
a{color:#1f5fa8}.facts th{background:none;font-weight:600}nav a{margin-right:12px}";

/// A whole page: `title`, a subtitle line, and the sections in order, with a table of
/// contents.
pub fn page(title: &str, subtitle: &str, sections: &[Section]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"generator\" content=\"nasr {}\"><title>{}</title><style>{STYLE}</style>\
         </head><body><header><h1>{}</h1><p>{}</p></header><main><nav>",
        env!("CARGO_PKG_VERSION"),
        escape(title),
        escape(title),
        escape(subtitle)
    );
    for section in sections {
        let _ = write!(
            out,
            "<a href=\"#{}\">{}</a>",
            escape(&section.id),
            escape(&section.title)
        );
    }
    out.push_str("</nav>");
    for section in sections {
        out.push_str(&section.to_html());
    }
    out.push_str("</main></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_everywhere() {
        let html = page(
            "a <run>",
            "x & y",
            &[Section::new("s", "S \"1\"").text("<script>")],
        );
        assert!(!html.contains("<script>"));
        assert!(html.contains("a &lt;run&gt;") && html.contains("x &amp; y"));
        assert!(html.contains("S &quot;1&quot;"));
    }
}
