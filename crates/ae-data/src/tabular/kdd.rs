use std::path::Path;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::error::Result;
/// The 41 feature names of KDD Cup 1999, in file order (the 42nd column is the label).
pub const KDD_FEATURES: [&str; 41] = [
    "duration",
    "protocol_type",
    "service",
    "flag",
    "src_bytes",
    "dst_bytes",
    "land",
    "wrong_fragment",
    "urgent",
    "hot",
    "num_failed_logins",
    "logged_in",
    "num_compromised",
    "root_shell",
    "su_attempted",
    "num_root",
    "num_file_creations",
    "num_shells",
    "num_access_files",
    "num_outbound_cmds",
    "is_host_login",
    "is_guest_login",
    "count",
    "srv_count",
    "serror_rate",
    "srv_serror_rate",
    "rerror_rate",
    "srv_rerror_rate",
    "same_srv_rate",
    "diff_srv_rate",
    "srv_diff_host_rate",
    "dst_host_count",
    "dst_host_srv_count",
    "dst_host_same_srv_rate",
    "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate",
    "dst_host_srv_diff_host_rate",
    "dst_host_serror_rate",
    "dst_host_srv_serror_rate",
    "dst_host_rerror_rate",
    "dst_host_srv_rerror_rate",
];

/// The label of normal traffic in KDD Cup 1999 files.
pub const KDD_NORMAL: &str = "normal.";

/// Writes `rows` lines of synthetic traffic in the KDD Cup 1999 format (no header, 41 features,
/// label with a trailing dot): normal HTTP/SMTP/FTP-like connections and, with probability
/// `attack_fraction`, `smurf.` (ICMP echo floods) or `neptune.` (SYN floods) rows shaped like
/// those attacks in the real data. It stands in for `kddcup.data_10_percent`, which cannot be
/// downloaded here; the pipeline reads the real file unchanged.
pub fn write_synthetic_kdd(
    path: &Path,
    rows: usize,
    attack_fraction: f64,
    seed: u64,
) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut text = String::with_capacity(rows * 160);
    for _ in 0..rows {
        let mut f = vec![0.0f64; 41];
        let (protocol, service, flag, label);
        let u: f64 = rng.random();
        if u >= attack_fraction {
            (protocol, flag, label) = ("tcp", "SF", KDD_NORMAL);
            service = ["http", "smtp", "ftp_data", "domain_u"][rng.random_range(0..4usize)];
            f[0] = if rng.random_bool(0.9) {
                0.0
            } else {
                rng.random_range(1.0..300.0f64).round()
            };
            f[4] = rng.random_range(100.0..2000.0f64).round();
            f[5] = rng.random_range(200.0..30000.0f64).round();
            f[11] = 1.0;
            f[22] = rng.random_range(1.0..20.0f64).round();
            f[23] = rng.random_range(1.0..25.0f64).round();
            f[28] = 1.0;
            f[31] = rng.random_range(10.0..255.0f64).round();
            f[32] = 255.0;
            f[33] = 1.0;
        } else if rng.random_bool(0.6) {
            (protocol, service, flag, label) = ("icmp", "ecr_i", "SF", "smurf.");
            f[4] = [520.0, 1032.0][rng.random_range(0..2usize)];
            f[22] = 511.0;
            f[23] = 511.0;
            f[28] = 1.0;
            f[31] = 255.0;
            f[32] = 255.0;
            f[33] = 1.0;
            f[35] = 1.0;
        } else {
            (protocol, flag, label) = ("tcp", "S0", "neptune.");
            service = ["private", "telnet", "finger"][rng.random_range(0..3usize)];
            f[22] = rng.random_range(100.0..300.0f64).round();
            f[23] = rng.random_range(5.0..25.0f64).round();
            f[24] = 1.0;
            f[25] = 1.0;
            f[28] = rng.random_range(0.0..0.1f64);
            f[29] = rng.random_range(0.05..0.1f64);
            f[31] = 255.0;
            f[32] = rng.random_range(1.0..25.0f64).round();
            f[37] = 1.0;
            f[38] = 1.0;
        }
        let fields: Vec<String> = (0..41)
            .map(|i| match i {
                1 => protocol.to_string(),
                2 => service.to_string(),
                3 => flag.to_string(),
                _ if f[i].fract() == 0.0 => format!("{}", f[i] as i64),
                _ => format!("{:.2}", f[i]),
            })
            .collect();
        text.push_str(&fields.join(","));
        text.push(',');
        text.push_str(label);
        text.push('\n');
    }
    crate::idx::write_atomic(path, text.as_bytes())
}
