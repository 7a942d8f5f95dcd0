//! Property tests of the device names `--device`/`--devices` parse (`DeviceSpec`): any text is
//! an error or a device, never a panic; a device's name parses back to the same device; and a
//! remote address keeps its host, port and index.

use std::str::FromStr;

use ae_train::DeviceSpec;
use proptest::prelude::*;

/// Host names and addresses as users write them.
fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
        (0u8..=255, 0u8..=255, 0u8..=255, 0u8..=255)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        Just("[::1]".to_string()),
        Just("[fe80::1:2]".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary text, and text near the names' shapes (schemes, separators, multi-byte
    /// characters where a scheme would end), is parsed or refused without a panic.
    #[test]
    fn any_text_is_a_device_or_an_error(
        text in prop_oneof![
            any::<String>(),
            "(ws|WS|wss|http|flex|cuda|wgpu)?(://|:)?[\\PC]{0,12}(:[0-9+\\-]{0,7})?(#[0-9é+\\-]{0,12})?",
        ]
    ) {
        if let Ok(spec) = DeviceSpec::from_str(&text) {
            // What parses has a name that parses back to it.
            prop_assert_eq!(DeviceSpec::from_str(&spec.to_string()).ok(), Some(spec));
        }
    }

    /// A remote address keeps its (lower-cased) host, port and index through a parse and a name.
    #[test]
    fn remote_addresses_round_trip(
        host in host(),
        port in 1u16..=u16::MAX,
        index in proptest::option::of(any::<u32>()),
    ) {
        let text = match index {
            Some(i) => format!("ws://{host}:{port}#{i}"),
            None => format!("ws://{host}:{port}"),
        };
        let spec = DeviceSpec::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(spec.index, index.map(|i| i as usize));
        prop_assert_eq!(spec.to_string(), text.to_ascii_lowercase());
    }

    /// Indices past 32 bits, and ports past 16, are refused rather than wrapped.
    #[test]
    fn out_of_range_numbers_are_refused(
        index in (u32::MAX as u64 + 1)..=u64::MAX,
        port in (u16::MAX as u32 + 1)..=u32::MAX,
    ) {
        let (past_index, past_port) = (format!("ws://h:1#{index}"), format!("ws://h:{port}"));
        prop_assert!(DeviceSpec::from_str(&past_index).is_err());
        prop_assert!(DeviceSpec::from_str(&past_port).is_err());
    }
}
