//! Every shipped pretrained model reproduces its card's test MSE on its own data (Fashion-MNIST
//! where Debian's `dataset-fashion-mnist` is installed, as CI does).

use autoencoders::data::DatasetSource;
use autoencoders::models::{pretrained, pretrained_card, pretrained_models};
use autoencoders::train::evaluate;
use burn::tensor::Device;

#[test]
fn each_shipped_model_reproduces_its_cards_test_mse() {
    let device = Device::flex();
    let mut checked = 0;
    for (model, dataset) in pretrained_models() {
        let card = pretrained_card(model, dataset).unwrap();
        let source = DatasetSource::from_name(dataset, None).unwrap();
        let data = match source.load() {
            Ok(data) => data,
            Err(err) if dataset == "fashion-mnist" => {
                eprintln!("skipped {model}/{dataset}: {err}");
                continue;
            }
            Err(err) => panic!("{err}"),
        };
        assert_eq!(data.test.count(), card.images[2], "{model}/{dataset}");
        let network = pretrained(model, dataset, &device).unwrap();
        let report = evaluate(&network, &data.test, 256, &device).unwrap();
        let relative = (report.mse - card.test_mse).abs() / card.test_mse;
        assert!(
            relative < 1e-3,
            "{model}/{dataset}: test MSE {} against the card's {}",
            report.mse,
            card.test_mse
        );
        // The card's f16 weights stay within 1% of the f32 ones it was trained as.
        if let Some((_, full)) = card
            .metrics
            .iter()
            .find(|(name, _)| name == "test MSE with f32 weights")
        {
            assert!(
                card.test_mse <= full * 1.01,
                "{model}/{dataset}: {} vs {full}",
                card.test_mse
            );
        }
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} models checked");
}
