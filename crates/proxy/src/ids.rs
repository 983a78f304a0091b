//! Identifiers written on every request: the request id and the client address as text.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;

/// A request id: 16 hex digits, unique enough to find a line in the audit log. A counter
/// through a bijective mixer keyed once per process (so ids are distinct and do not show
/// how many requests came before): no hashing, one allocation.
pub fn request_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    static KEY: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let key = *KEY.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x6d61_6361_726f_6f6e);
        h.finish()
    });
    // splitmix64's finalizer: a bijection on u64, so distinct counts give distinct ids.
    let mut z = COUNTER.fetch_add(1, Relaxed).wrapping_add(key);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let mut id = String::with_capacity(16);
    for shift in (0..16).rev() {
        id.push(char::from(
            b"0123456789abcdef"[((z >> (shift * 4)) & 0xf) as usize],
        ));
    }
    id
}

/// A client address as text (`1.2.3.4:5678`, `[::1]:5678`), IPv4 without the formatting
/// machinery: it is written on every request.
pub fn peer_text(addr: SocketAddr) -> String {
    let SocketAddr::V4(v4) = addr else {
        return addr.to_string();
    };
    let mut s = String::with_capacity(21);
    let push_num = |n: u32, s: &mut String| {
        let mut digits = [0u8; 5];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        s.extend(digits[i..].iter().map(|&d| char::from(d)));
    };
    for (i, octet) in v4.ip().octets().into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        push_num(u32::from(octet), &mut s);
    }
    s.push(':');
    push_num(u32::from(v4.port()), &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_written_as_std_writes_them() {
        for a in [
            "1.2.3.4:5678",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "127.0.0.1:80",
            "[::1]:443",
        ] {
            let addr: SocketAddr = a.parse().expect("addr");
            assert_eq!(peer_text(addr), addr.to_string());
        }
    }

    #[test]
    fn request_ids_are_16_hex_digits_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids
            .iter()
            .all(|i| i.len() == 16 && i.bytes().all(|b| b.is_ascii_hexdigit())));
    }
}
