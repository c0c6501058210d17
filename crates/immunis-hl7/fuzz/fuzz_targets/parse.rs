//! Fuzz the parser, batch splitter and every accessor: must never panic.
#![no_main]

use immunis_hl7::{split_messages, Message};
use libfuzzer_sys::fuzz_target;

fn walk(m: &Message<'_>) {
    for seg in m.segments() {
        let _ = seg.raw();
        for f in seg.fields() {
            let _ = f.decoded();
            for r in f.reps() {
                for c in r.comps() {
                    let _ = c.text();
                    let _ = c.sub_text(2);
                }
            }
        }
    }
    for p in ["MSH-9.2", "PID-3[2].4.1", "RXA[2]-5", "X[", "PID-"] {
        let _ = m.query(p);
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(m) = Message::parse(&text) {
        walk(&m);
    }
    for part in split_messages(&text).messages {
        if let Ok(m) = Message::parse(part) {
            walk(&m);
        }
    }
});
