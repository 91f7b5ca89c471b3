//! Table output of `list` and `find` in ovs-vsctl's formats (`lib/table.c`):
//! list (the default), table, csv, html and json, with string, bare or json
//! cells, headings on or off.

use super::value::{json_string, ColumnType, Datum, Json};

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    List,
    Table,
    Csv,
    Html,
    Json,
}

/// `--data` (`-d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CellFormat {
    String,
    Bare,
    Json,
}

/// How tables are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Style {
    pub format: Format,
    pub cells: CellFormat,
    pub headings: bool,
    pub pretty: bool,
}

impl Default for Style {
    fn default() -> Self {
        // ovs-vsctl prints `list` and `find` as a list by default.
        Style {
            format: Format::List,
            cells: CellFormat::String,
            headings: true,
            pretty: false,
        }
    }
}

impl Style {
    pub fn parse_format(&mut self, s: &str) -> Result<(), String> {
        self.format = match s {
            "table" => Format::Table,
            "list" => Format::List,
            "html" => Format::Html,
            "csv" => Format::Csv,
            "json" => Format::Json,
            _ => return Err(format!("unknown output format \"{s}\"")),
        };
        Ok(())
    }
    pub fn parse_cells(&mut self, s: &str) -> Result<(), String> {
        self.cells = match s {
            "string" => CellFormat::String,
            "bare" => CellFormat::Bare,
            "json" => CellFormat::Json,
            _ => return Err(format!("unknown data format \"{s}\"")),
        };
        Ok(())
    }
}

/// One cell: a datum and its column type.
#[derive(Clone, Debug)]
pub(crate) struct Cell {
    pub datum: Datum,
    pub ty: ColumnType,
}

impl Cell {
    fn text(&self, style: &Style) -> String {
        match style.cells {
            CellFormat::String => self.datum.to_text(&self.ty),
            CellFormat::Bare => self.datum.to_bare(),
            CellFormat::Json => self.datum.to_json(&self.ty).to_string_compact(),
        }
    }
}

/// The result of a `list` or `find`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    pub headings: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// Prints `table`.  `printed` counts the tables printed so far by this
/// invocation: like OVS, every table after the first starts with a blank
/// line (except in JSON and HTML).
pub(crate) fn format_table(table: &Table, style: &Style, printed: &mut usize) -> String {
    let mut out = String::new();
    let separate = *printed > 0;
    *printed += 1;
    match style.format {
        Format::List => {
            if separate {
                out.push('\n');
            }
            for (y, row) in table.rows.iter().enumerate() {
                if y > 0 {
                    out.push('\n');
                }
                for (heading, cell) in table.headings.iter().zip(row) {
                    if style.headings {
                        out.push_str(&format!("{heading:<20}: "));
                    }
                    out.push_str(&cell.text(style));
                    out.push('\n');
                }
            }
        }
        Format::Table => {
            if separate {
                out.push('\n');
            }
            let texts: Vec<Vec<String>> = table
                .rows
                .iter()
                .map(|r| r.iter().map(|c| c.text(style)).collect())
                .collect();
            let widths: Vec<usize> = (0..table.headings.len())
                .map(|x| {
                    let cells = texts.iter().map(|r| r[x].len()).max().unwrap_or(0);
                    if style.headings {
                        cells.max(table.headings[x].len())
                    } else {
                        cells
                    }
                })
                .collect();
            let line = |cells: &mut dyn Iterator<Item = String>, out: &mut String| {
                let mut s = String::new();
                for (x, text) in cells.enumerate() {
                    if x > 0 {
                        s.push(' ');
                    }
                    s.push_str(&text);
                    s.push_str(&" ".repeat(widths[x].saturating_sub(text.len())));
                }
                // OVS trims trailing spaces from every line.
                out.push_str(s.trim_end_matches(' '));
                out.push('\n');
            };
            if style.headings {
                line(&mut table.headings.iter().cloned(), &mut out);
                line(&mut widths.iter().map(|w| "-".repeat(*w)), &mut out);
            }
            for row in texts {
                line(&mut row.into_iter(), &mut out);
            }
        }
        Format::Csv => {
            if separate {
                out.push('\n');
            }
            if style.headings {
                let heads: Vec<String> = table.headings.iter().map(|h| csv(h)).collect();
                out.push_str(&heads.join(","));
                out.push('\n');
            }
            for row in &table.rows {
                let cells: Vec<String> = row.iter().map(|c| csv(&c.text(style))).collect();
                out.push_str(&cells.join(","));
                out.push('\n');
            }
        }
        Format::Html => {
            out.push_str("<table border=1>\n");
            if style.headings {
                out.push_str("  <tr>\n");
                for h in &table.headings {
                    html_cell("th", h, &mut out);
                }
                out.push_str("  </tr>\n");
            }
            for row in &table.rows {
                out.push_str("  <tr>\n");
                for c in row {
                    html_cell("td", &c.text(style), &mut out);
                }
                out.push_str("  </tr>\n");
            }
            out.push_str("</table>\n");
        }
        Format::Json => {
            // JSON cells are always the datum's JSON, whatever `-d` says.
            let data = table
                .rows
                .iter()
                .map(|r| Json::Array(r.iter().map(|c| c.datum.to_json(&c.ty)).collect()))
                .collect();
            let headings = table
                .headings
                .iter()
                .map(|h| Json::Str(h.clone()))
                .collect();
            let json = Json::Object(vec![
                ("data".into(), Json::Array(data)),
                ("headings".into(), Json::Array(headings)),
            ]);
            out.push_str(&if style.pretty {
                json.to_string_pretty()
            } else {
                json.to_string_compact()
            });
            out.push('\n');
        }
    }
    out
}

fn csv(s: &str) -> String {
    if s.contains(['\n', '"', ',']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn html_cell(element: &str, content: &str, out: &mut String) {
    out.push_str(&format!("    <{element}>"));
    for c in content.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out.push_str(&format!("</{element}>\n"));
}

/// A quoted argument for messages that echo a command line
/// (`process_escape_args`).
pub(crate) fn escape_arg(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains([' ', '"', '\\', '\'', '\t', '\n']) {
        return arg.to_string();
    }
    let mut out = String::new();
    json_string(arg, &mut out);
    out
}
