//! tracefs event formats (`events/<system>/<event>/format`): the event's numeric ID and where
//! each field sits in its record, as the running kernel lays them out; and the ring-buffer
//! page header (`events/header_page`).

use std::collections::HashMap;

/// A field of an event record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Byte offset in the record (after the ring-buffer event header).
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
    /// A `__data_loc` field: a u32 holding (length << 16 | offset) of data in the record.
    pub data_loc: bool,
}

/// One event's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    /// Numeric ID (`common_type` of its records).
    pub id: u16,
    /// Fields by name.
    pub fields: HashMap<String, Field>,
}

/// Parses a `format` file.
pub fn parse(text: &str) -> Option<Format> {
    let mut id = None;
    let mut fields = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(v) = line.strip_prefix("ID:") {
            id = v.trim().parse().ok();
            continue;
        }
        let Some(rest) = line.strip_prefix("field:") else {
            continue;
        };
        // `field:int irq;	offset:8;	size:4;	signed:1;`
        let mut parts = rest.split(';').map(str::trim);
        let decl = parts.next()?;
        let mut offset = None;
        let mut size = None;
        for p in parts {
            if let Some(v) = p.strip_prefix("offset:") {
                offset = v.parse().ok();
            } else if let Some(v) = p.strip_prefix("size:") {
                size = v.parse().ok();
            }
        }
        // The name is the last identifier of the declaration, before any array suffix.
        let name = decl
            .split(|c: char| c.is_whitespace() || c == '*')
            .rfind(|w| !w.is_empty())?
            .split('[')
            .next()?
            .to_string();
        if let (Some(offset), Some(size)) = (offset, size) {
            fields.insert(
                name,
                Field {
                    offset,
                    size,
                    data_loc: decl.contains("__data_loc"),
                },
            );
        }
    }
    Some(Format { id: id?, fields })
}

/// Where a ring-buffer page keeps its timestamp, commit count and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageHeader {
    /// Offset of the page's u64 timestamp.
    pub timestamp: usize,
    /// Offset and size of the commit field (data length plus flags).
    pub commit: (usize, usize),
    /// Offset of the first event.
    pub data: usize,
}

impl Default for PageHeader {
    /// The 64-bit layout: timestamp at 0, an 8-byte commit at 8, data from 16.
    fn default() -> Self {
        PageHeader {
            timestamp: 0,
            commit: (8, 8),
            data: 16,
        }
    }
}

/// Parses `events/header_page`.
pub fn page_header(text: &str) -> PageHeader {
    let mut h = PageHeader::default();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("field:") else {
            continue;
        };
        let get = |k: &str| {
            rest.split(';')
                .map(str::trim)
                .find_map(|p| p.strip_prefix(k).and_then(|v| v.parse::<usize>().ok()))
        };
        let (Some(off), Some(size)) = (get("offset:"), get("size:")) else {
            continue;
        };
        if rest.contains(" timestamp") {
            h.timestamp = off;
        } else if rest.contains(" commit") {
            h.commit = (off, size);
        } else if rest.contains(" data") {
            h.data = off;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    const IRQ_ENTRY: &str = "name: irq_handler_entry
ID: 134
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int irq;\toffset:8;\tsize:4;\tsigned:1;
\tfield:__data_loc char[] name;\toffset:12;\tsize:4;\tsigned:1;

print fmt: \"irq=%d name=%s\", REC->irq, __get_str(name)
";

    #[test]
    fn reads_ids_and_field_offsets() {
        let f = parse(IRQ_ENTRY).unwrap();
        assert_eq!(f.id, 134);
        assert_eq!(
            f.fields["irq"],
            Field {
                offset: 8,
                size: 4,
                data_loc: false
            }
        );
        assert_eq!(
            f.fields["name"],
            Field {
                offset: 12,
                size: 4,
                data_loc: true
            }
        );
        let sw = parse("ID: 300\n\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:const char * reason;\toffset:24;\tsize:8;\tsigned:0;\n").unwrap();
        assert_eq!(sw.fields["prev_comm"].size, 16);
        assert_eq!(sw.fields["reason"].offset, 24);
    }

    #[test]
    fn reads_the_page_header() {
        let h = page_header(
            "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n\tfield: char data;\toffset:16;\tsize:4080;\tsigned:1;\n",
        );
        assert_eq!(h, PageHeader::default());
    }
}
