use burn::data::dataset::Dataset;
use burn::tensor::{Device, Int, Tensor};

use super::*;

#[test]
fn word_tokens_round_trip() {
    let kind = TokenizerKind::Word;
    let tokens = kind.tokenize("Don't panic, it's only 42 (really)!");
    assert_eq!(
        tokens,
        [
            "don't", "panic", ",", "it's", "only", "42", "(", "really", ")", "!"
        ]
    );
    assert_eq!(
        kind.detokenize(&tokens),
        "don't panic, it's only 42 (really)!"
    );
    let chars = TokenizerKind::Char.tokenize("Hi, yo");
    assert_eq!(chars.len(), 6);
    assert_eq!(TokenizerKind::Char.detokenize(&chars), "Hi, yo");
}

#[test]
fn vocabulary_caps_by_frequency_and_maps_unknowns() {
    let sentences = ["the cat sat", "the dog sat", "the end"];
    let vocab = Vocabulary::build(TokenizerKind::Word, &sentences, 6).unwrap();
    // "the" (3) and "sat" (2) are the most frequent; ties of 1 are dropped by the cap.
    assert_eq!(
        vocab.tokens,
        ["<pad>", "<s>", "</s>", "<unk>", "the", "sat"]
    );
    assert_eq!(vocab.encode("the cat sat"), [4, UNK, 5]);
    assert_eq!(vocab.decode(&[BOS, 4, UNK, 5, EOS, 4]), "the <unk> sat");
    assert!(Vocabulary::build(TokenizerKind::Word, &sentences, 4).is_err());
}

#[test]
fn vocabulary_json_round_trip_and_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let vocab = Vocabulary::build(TokenizerKind::Char, &["abc", "abd"], 100).unwrap();
    let path = dir.path().join("vocab.json");
    vocab.save(&path).unwrap();
    let loaded = Vocabulary::load(&path).unwrap();
    assert_eq!(loaded, vocab);
    assert_eq!(loaded.id("a"), vocab.id("a"));
    std::fs::write(&path, "{\"kind\": \"word\",\n \"tokens\": [1, 2]}").unwrap();
    let error = Vocabulary::load(&path).unwrap_err().to_string();
    assert!(error.contains("line 2"), "{error}");
}

#[test]
fn corpus_reads_fortune_files_and_line_files() {
    let dir = tempfile::tempdir().unwrap();
    let fortunes = dir.path().join("quotes");
    std::fs::write(
        &fortunes,
        "First  one,\nsecond line.\n%\nAnother.  Two here!\n%\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("quotes.dat"), [0u8, 159, 146]).unwrap();
    let entries = read_corpus(&fortunes).unwrap();
    assert_eq!(entries, ["First one, second line.", "Another. Two here!"]);
    // A folder reads files without an extension only (not the binary .dat index).
    assert_eq!(read_corpus(dir.path()).unwrap(), entries);
    let sentences = sentences_for_training(&entries, TokenizerKind::Word, 3, 10);
    assert_eq!(sentences, ["First one, second line.", "Two here!"]);

    let lines = dir.path().join("lines.txt");
    std::fs::write(&lines, "one\n\n  two  three \n").unwrap();
    assert_eq!(read_corpus(&lines).unwrap(), ["one", "two three"]);

    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, b"fine\nstill fine\n\xff\xfe\n").unwrap();
    let error = read_corpus(&bad).unwrap_err().to_string();
    assert!(
        error.contains("line 3") && error.contains("UTF-8"),
        "{error}"
    );
    // A byte order mark, control characters (a NUL, a terminal's colour codes) and old Mac
    // line ends are no part of a word.
    let odd = dir.path().join("odd.txt");
    std::fs::write(&odd, "\u{feff}one\0two\r\x1b[31mred\x1b[0m three\r").unwrap();
    assert_eq!(read_corpus(&odd).unwrap(), ["one two", "red three"]);
    let utf16 = dir.path().join("utf16.txt");
    std::fs::write(&utf16, [0xfe, 0xff, 0, b'a']).unwrap();
    let error = read_corpus(&utf16).unwrap_err().to_string();
    assert!(error.contains("UTF-16"), "{error}");
    // Without its byte order mark too (NULs between the letters); and gzip is named as such.
    let bare: Vec<u8> = "hi there.\nhow are you?\n"
        .bytes()
        .flat_map(|b| [b, 0])
        .collect();
    std::fs::write(&utf16, bare).unwrap();
    let error = read_corpus(&utf16).unwrap_err().to_string();
    assert!(error.contains("UTF-16"), "{error}");
    let gz = dir.path().join("corpus.txt.gz");
    std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0]).unwrap();
    let error = read_corpus(&gz).unwrap_err().to_string();
    assert!(error.contains("gunzip"), "{error}");
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "\n \n").unwrap();
    assert!(read_corpus(&empty).is_err());
    assert!(read_corpus(&dir.path().join("missing")).is_err());

    // A folder of .txt files is read (in name order), other extensions are not.
    let texts = tempfile::tempdir().unwrap();
    std::fs::write(
        texts.path().join("b.TXT"),
        "second file
",
    )
    .unwrap();
    std::fs::write(
        texts.path().join("a.txt"),
        "first file
",
    )
    .unwrap();
    std::fs::write(
        texts.path().join("notes.md"),
        "# not read
",
    )
    .unwrap();
    assert_eq!(
        read_corpus(texts.path()).unwrap(),
        ["first file", "second file"]
    );
    std::fs::remove_file(texts.path().join("a.txt")).unwrap();
    std::fs::remove_file(texts.path().join("b.TXT")).unwrap();
    let error = read_corpus(texts.path()).unwrap_err().to_string();
    assert!(
        error.contains(".txt files and files without an extension"),
        "{error}"
    );
}

#[test]
fn batch_pads_shifts_and_marks_last_tokens() {
    let device = Device::flex();
    let items = [TokenItem { ids: vec![7, 8, 9] }, TokenItem { ids: vec![5] }];
    let batch = TextBatcher::batch_items(&items, &device);
    let ints = |t: Tensor<2, Int>| t.into_data().try_to_vec_as::<i64>().unwrap();
    assert_eq!(ints(batch.tokens), [7, 8, 9, 5, 0, 0]);
    assert_eq!(ints(batch.decoder_inputs), [1, 7, 8, 9, 1, 5, 0, 0]);
    assert_eq!(ints(batch.targets), [7, 8, 9, 2, 5, 2, 0, 0]);
    assert_eq!(
        batch.last.into_data().try_to_vec_as::<f32>().unwrap(),
        [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    );
}

#[test]
fn split_is_seeded_and_disjoint() {
    let sentences: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();
    let (train, test) = split_train_test(sentences.clone(), 0.25, 1).unwrap();
    assert_eq!((train.len(), test.len()), (15, 5));
    assert!(test.iter().all(|t| !train.contains(t)));
    assert_eq!(
        split_train_test(sentences.clone(), 0.25, 1).unwrap().1,
        test
    );
    assert!(split_train_test(sentences, 0.0, 1).is_err());
}

#[test]
fn dataset_truncates_and_counts_unknowns() {
    let vocab = Vocabulary::build(TokenizerKind::Word, &["a b c d"], 6).unwrap();
    let data = TextDataset::new(&vocab, &["a b c d", "", "z"], 3);
    assert_eq!(data.len(), 2);
    assert_eq!(data.items()[0].ids.len(), 3);
    assert!((data.unknown_rate() - 2.0 / 4.0).abs() < 1e-12);
}
