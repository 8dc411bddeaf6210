//! What a run has shipped so far, read from its capture file while the guest writes it: the
//! records, the events and the largest value, for the progress line, so a long run says how it
//! is going (under icount the firmware ships at its checkpoints, and the line moves with them).

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tickscope_analysis::decode::{Decoder, Sink};
use tickscope_core::units::ticks_to_ns;
use tickscope_core::wire::Message;
use tickscope_core::wire::msg::delta_decoded;

/// The running figures.
#[derive(Default)]
struct Running {
    hz: u64,
    records: u64,
    largest_ticks: u64,
}

impl Sink for Running {
    fn message(&mut self, _seq: u32, msg: &Message) {
        match msg {
            Message::Header(h) => self.hz = h.counter_hz,
            Message::NoiseEvents(b) => {
                self.records += b.items.len() as u64;
                for e in &b.items {
                    self.largest_ticks = self.largest_ticks.max(e.duration as u64);
                }
            }
            Message::TimerDeltas(b) => {
                for s in delta_decoded(&b.items) {
                    self.records += 1;
                    self.largest_ticks = self.largest_ticks.max(s.latency as u64);
                }
            }
            Message::TimerSamples(b) => {
                for s in &b.items {
                    self.records += 1;
                    self.largest_ticks = self.largest_ticks.max(s.latency as u64);
                }
            }
            _ => {}
        }
    }
}

/// A capture file followed as it grows.
pub struct Live {
    path: PathBuf,
    offset: u64,
    decoder: Option<Decoder>,
    running: Running,
    next: Instant,
}

impl Live {
    /// Follows `path` (it may not exist yet).
    pub fn new(path: PathBuf) -> Live {
        Live {
            path,
            offset: 0,
            decoder: Decoder::new(None).ok(),
            running: Running::default(),
            next: Instant::now(),
        }
    }

    /// At most once a second: decodes what was added and says where the run stands
    /// (`128,000 records, largest 412.3 µs`), or `None` when nothing arrived yet.
    pub fn poll(&mut self) -> Option<String> {
        if Instant::now() < self.next {
            return None;
        }
        self.next = Instant::now() + Duration::from_secs(1);
        let decoder = self.decoder.as_mut()?;
        let mut f = std::fs::File::open(&self.path).ok()?;
        f.seek(SeekFrom::Start(self.offset)).ok()?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).ok()?;
            if n == 0 {
                break;
            }
            self.offset += n as u64;
            decoder.push(&buf[..n], &mut self.running);
        }
        let r = &self.running;
        (r.records > 0 && r.hz > 0).then(|| {
            format!(
                "{} records, largest {:.1} µs",
                r.records,
                ticks_to_ns(r.largest_ticks, r.hz) as f64 / 1e3
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickscope_core::config::{Config, Mode, TimerChoice};
    use tickscope_core::wire::Encoder;
    use tickscope_core::wire::msg::{BLOCK, Block, NoiseEvent, RunHeader, Source};

    fn header(counter_hz: u64) -> Message {
        Message::Header(RunHeader {
            format: tickscope_core::wire::FORMAT_VERSION as u16,
            source: Source::Firmware,
            board: heapless::String::try_from("test").unwrap(),
            midr: 0,
            el: 1,
            boot_el: 1,
            gic: 2,
            counter_hz,
            reset_ticks: 0,
            config: Config {
                mode: Mode::Noise,
                ..Config::default()
            },
            boot_core: 0,
            timer: TimerChoice::default(),
            pmu: false,
            reduced: false,
            revision: heapless::String::new(),
            kernel: heapless::String::new(),
            cmdline: heapless::String::new(),
        })
    }

    #[test]
    fn the_line_follows_the_file_as_it_grows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("uart.bin");
        let mut live = Live::new(path.clone());
        assert_eq!(live.poll(), None, "no file yet");
        let mut enc = Box::new(Encoder::new());
        let mut bytes = Vec::new();
        bytes.extend_from_slice(enc.encode(&header(62_500_000)).unwrap());
        let mut items = heapless::Vec::<NoiseEvent, BLOCK>::new();
        for (i, d) in [100u32, 6250, 300].into_iter().enumerate() {
            let _ = items.push(NoiseEvent {
                start: i as u64 * 1000,
                duration: d,
                counters: 0,
            });
        }
        bytes.extend_from_slice(
            enc.encode(&Message::NoiseEvents(Block { core: 1, items }))
                .unwrap(),
        );
        std::fs::write(&path, &bytes).unwrap();
        live.next = Instant::now();
        // 6250 ticks of 16 ns: 100 µs.
        assert_eq!(live.poll().as_deref(), Some("3 records, largest 100.0 µs"));
    }
}
