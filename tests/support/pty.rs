//! Pseudo-terminals, for runs whose stdin or stderr must be a terminal.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A new pseudo-terminal, 24 rows by 120 columns: (master, slave). Give
/// the slave to the binary; read (or write) the terminal on the master.
pub fn pty() -> (std::fs::File, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two new descriptors, which we then own.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are open and owned by nobody else.
    unsafe {
        (
            std::fs::File::from_raw_fd(master),
            OwnedFd::from_raw_fd(slave),
        )
    }
}

/// Reads the master side on a thread until every slave descriptor is closed
/// (the read then fails with EIO), and returns the bytes read.
pub fn read_terminal(master: std::fs::File) -> std::thread::JoinHandle<Vec<u8>> {
    let watched = watch_terminal(master);
    std::thread::spawn(move || watched.join())
}

/// Sets the terminal's window size (`TIOCSWINSZ` on the master). Rows 0
/// is what a fresh pseudo-terminal given only `stty cols N` reports.
pub fn set_size(master: &std::fs::File, rows: u16, cols: u16) {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from a valid pointer.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    assert_eq!(rc, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
}

/// What the reading thread has read so far, and whether it has ended.
#[derive(Default)]
struct Seen {
    bytes: Vec<u8>,
    ended: bool,
}

/// The master side read on a thread, whose bytes so far can be waited for
/// (see [`read_terminal`] for when the reading ends).
pub struct Watched {
    seen: Arc<(Mutex<Seen>, Condvar)>,
}

/// Starts reading the master side; see [`Watched`].
pub fn watch_terminal(mut master: std::fs::File) -> Watched {
    let seen = Arc::new((Mutex::new(Seen::default()), Condvar::new()));
    let shared = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            let n = master.read(&mut buf).unwrap_or(0);
            let mut s = shared.0.lock().unwrap();
            s.bytes.extend_from_slice(&buf[..n]);
            s.ended = n == 0;
            shared.1.notify_all();
            if n == 0 {
                return;
            }
        }
    });
    Watched { seen }
}

impl Watched {
    /// Waits until `needle` has been seen (`true`), the terminal is closed
    /// or `limit` has passed (`false`).
    pub fn wait_for(&self, needle: &[u8], limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut s = self.seen.0.lock().unwrap();
        loop {
            if s.bytes.windows(needle.len()).any(|w| w == needle) {
                return true;
            }
            let now = Instant::now();
            if s.ended || now >= deadline {
                return false;
            }
            s = self.seen.1.wait_timeout(s, deadline - now).unwrap().0;
        }
    }

    /// Waits until the terminal is closed and returns everything read.
    pub fn join(self) -> Vec<u8> {
        let mut s = self.seen.0.lock().unwrap();
        while !s.ended {
            s = self.seen.1.wait(s).unwrap();
        }
        std::mem::take(&mut s.bytes)
    }
}
