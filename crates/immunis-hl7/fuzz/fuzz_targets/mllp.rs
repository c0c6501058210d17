//! Fuzz the incremental MLLP decoder with arbitrary chunking: never panics,
//! never yields a frame larger than the limit or containing framing bytes.
#![no_main]

use immunis_hl7::MllpDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let max = usize::from(ctl) * 4;
    let chunk = usize::from(ctl % 17) + 1;
    let mut d = MllpDecoder::new(max);
    for c in rest.chunks(chunk) {
        d.push(c);
        while let Some(r) = d.next_frame() {
            if let Ok(m) = r {
                assert!(m.len() <= max);
                assert!(!m.contains(&0x0b) && !m.contains(&0x1c));
            }
        }
    }
});
