//! Saving and loading weights (burnpack) and configurations (JSON), atomically.
//!
//! Every write goes to a temporary file in the destination folder and is renamed into place, so
//! an interrupted save never leaves a half-written file under the final name.

use std::fs;
use std::path::Path;

use burn::config::Config;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, FloatDType, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// The file name of a model's configuration inside a model folder.
pub const CONFIG_FILE: &str = "config.json";
/// The file name of a model's weights inside a model folder.
pub const WEIGHTS_FILE: &str = "model.bpk";

/// Writes `bytes` to `path` through a temporary file and a rename, creating the folder if
/// needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    ae_io::write_atomic(path, bytes).map_err(|source| ModelError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// How many float parameters of `module` are NaN or infinite (one read-back for the whole
/// module).
///
/// # Errors
/// [`ModelError::ReadBack`] when the count cannot be read from the device.
pub fn non_finite_parameters<M: Module>(module: &M) -> Result<usize> {
    count_parameters(module, None)
}

/// How many float parameters are not finite (`above` `None`) or finite with a magnitude above
/// `above`.
fn count_parameters<M: Module>(module: &M, above: Option<f32>) -> Result<usize> {
    struct Counter {
        above: Option<f32>,
        count: Option<Tensor<1>>,
    }
    impl ModuleVisitor for Counter {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let bad = match self.above {
                None => param.val().is_finite().bool_not(),
                Some(limit) => param.val().abs().greater_elem(limit),
            };
            let bad = bad.float().sum();
            self.count = Some(match self.count.take() {
                Some(count) => count + bad,
                None => bad,
            });
        }
    }
    let mut counter = Counter { above, count: None };
    module.visit(&mut counter);
    let Some(count) = counter.count else {
        return Ok(0);
    };
    let read_back = |message: String| ModelError::ReadBack {
        what: "the count of non-finite weights",
        message,
    };
    let values = count
        .try_into_data()
        .map_err(|e| read_back(e.to_string()))?
        .try_to_vec_as::<f32>()
        .map_err(|e| read_back(format!("{e:?}")))?;
    Ok(values.first().map_or(0, |&c| c.round() as usize))
}

/// Fails when `module` holds NaN or infinite weights, naming `path`.
///
/// # Errors
/// [`ModelError::NonFiniteWeights`], or a read-back error.
pub fn check_finite_weights<M: Module>(module: &M, path: &Path) -> Result<()> {
    match non_finite_parameters(module)? {
        0 => Ok(()),
        count => Err(ModelError::NonFiniteWeights {
            path: path.to_path_buf(),
            count,
        }),
    }
}

/// The precision weights are stored at. Models always compute in `f32`; `f16` halves the file
/// and rounds each weight to 11 significant bits (it is read back as `f32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightsPrecision {
    /// 4 bytes a weight, exactly as trained.
    #[default]
    F32,
    /// 2 bytes a weight (IEEE half precision).
    F16,
}

impl std::fmt::Display for WeightsPrecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
        })
    }
}

/// The largest magnitude `f16` holds; a weight above it would be stored as infinite.
const F16_MAX: f32 = 65504.0;

/// Fails when `module` holds weights `precision` cannot store (f16: a magnitude above 65,504),
/// naming `path`; before [`round_weights`], which would turn them into infinities that then
/// read as a diverged model.
///
/// # Errors
/// [`ModelError::WeightsOutOfRange`], or a read-back error.
pub fn check_storable<M: Module>(
    module: &M,
    precision: WeightsPrecision,
    path: &Path,
) -> Result<()> {
    if precision == WeightsPrecision::F32 {
        return Ok(());
    }
    match count_parameters(module, Some(F16_MAX))? {
        0 => Ok(()),
        count => Err(ModelError::WeightsOutOfRange {
            path: path.to_path_buf(),
            count,
            precision,
        }),
    }
}

/// Casts every float parameter of a module to one dtype.
struct CastParams(FloatDType);

impl ModuleMapper for CastParams {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let dtype = self.0;
        param.map(|tensor| tensor.cast(dtype))
    }
}

/// The module with its weights rounded to `precision` and held as `f32` again: what a model
/// saved at that precision computes after it is loaded.
pub fn round_weights<M: Module>(module: M, precision: WeightsPrecision) -> M {
    match precision {
        WeightsPrecision::F32 => module,
        WeightsPrecision::F16 => module
            .map(&mut CastParams(FloatDType::F16))
            .map(&mut CastParams(FloatDType::F32)),
    }
}

/// Saves a module's parameters as a burnpack file (`f32`).
pub fn save_weights<M: Module>(module: M, path: &Path) -> Result<()> {
    save_weights_as(module, path, WeightsPrecision::F32)
}

/// Saves a module's parameters as a burnpack file at `precision`.
pub fn save_weights_as<M: Module>(
    module: M,
    path: &Path,
    precision: WeightsPrecision,
) -> Result<()> {
    let module = match precision {
        WeightsPrecision::F32 => module,
        WeightsPrecision::F16 => module.map(&mut CastParams(FloatDType::F16)),
    };
    let bytes = module
        .into_record()
        .into_bytes()
        .map_err(|e| ModelError::Weights {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    write_atomic(path, &bytes)
}

/// Loads parameters from a burnpack file into `module` (which fixes the device and the shapes).
pub fn load_weights<M: Module>(module: M, path: &Path) -> Result<M> {
    ae_io::check_file(path, ae_io::Limit::data())?;
    let weights_error = |e: burn::store::RecordError| ModelError::Weights {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let record = ModuleRecord::load(path).map_err(weights_error)?;
    // Weights stored at another precision (f16) are cast to the module's (f32) as they load.
    module
        .try_load_record(record.cast_to_module_dtype())
        .map_err(weights_error)
}

/// Loads parameters from burnpack bytes (an embedded file) into `module`; `source` names the
/// bytes in errors.
pub fn load_weights_from_bytes<M: Module>(module: M, bytes: &[u8], source: &Path) -> Result<M> {
    let weights_error = |e: burn::store::RecordError| ModelError::Weights {
        path: source.to_path_buf(),
        message: e.to_string(),
    };
    let record =
        ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(weights_error)?;
    module
        .try_load_record(record.cast_to_module_dtype())
        .map_err(weights_error)
}

/// Where a model's weights come from.
pub(crate) enum WeightsSource<'a> {
    /// A burnpack file.
    File(&'a Path),
    /// Burnpack bytes (embedded in the binary), named in errors by the path.
    Bytes(&'a [u8], &'a Path),
}

impl WeightsSource<'_> {
    pub(crate) fn load<M: Module>(&self, module: M) -> Result<M> {
        match self {
            Self::File(path) => load_weights(module, path),
            Self::Bytes(bytes, path) => load_weights_from_bytes(module, bytes, path),
        }
    }
}

/// The JSON field that names the model kind in a model folder's `config.json`.
pub const KIND_FIELD: &str = "kind";

fn json_error(path: &Path) -> impl Fn(serde_json::Error) -> ModelError + '_ {
    move |source| ModelError::ConfigJson {
        path: path.to_path_buf(),
        source,
    }
}

/// Saves a configuration as pretty JSON, with `"kind": kind` added to its fields, so that a model
/// folder says which model it holds.
pub fn save_config<C: Config>(kind: &str, config: &C, path: &Path) -> Result<()> {
    let mut value = serde_json::to_value(config).map_err(json_error(path))?;
    if let Some(fields) = value.as_object_mut() {
        fields.insert(KIND_FIELD.into(), kind.into());
    }
    let json = serde_json::to_string_pretty(&value).map_err(json_error(path))?;
    write_atomic(path, json.as_bytes())
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = ae_io::read_to_string(path, ae_io::Limit::JSON)?;
    serde_json::from_str(&text).map_err(json_error(path))
}

/// The model kind a `config.json` names.
pub fn read_kind(path: &Path) -> Result<String> {
    read_json(path)?
        .get(KIND_FIELD)
        .and_then(|k| k.as_str())
        .map(str::to_string)
        .ok_or_else(|| ModelError::InvalidConfig {
            field: KIND_FIELD,
            message: format!("is missing from {}", path.display()),
        })
}

/// Checks `dir` looks like a model folder before its files are read, so that a mistyped path
/// says what a model folder is rather than that one file is missing.
pub(crate) fn check_model_folder(dir: &Path) -> Result<()> {
    let what = if !dir.exists() {
        "no such folder"
    } else if !dir.is_dir() {
        "not a folder"
    } else if !dir.join(CONFIG_FILE).exists() {
        "a folder without config.json"
    } else {
        return Ok(());
    };
    Err(ModelError::NotAModelFolder {
        path: dir.to_path_buf(),
        what,
    })
}

/// Loads a configuration saved by [`save_config`], checking that it is of `kind`. A parse error
/// names the file, line and column.
pub fn load_config<C: Config>(kind: &str, path: &Path) -> Result<C> {
    let mut value = read_json(path)?;
    let found = value
        .as_object_mut()
        .and_then(|fields| fields.remove(KIND_FIELD));
    match found.as_ref().and_then(|k| k.as_str()) {
        Some(found) if found == kind => {}
        other => {
            return Err(ModelError::WrongKind {
                path: path.to_path_buf(),
                expected: kind.to_string(),
                found: other.unwrap_or("nothing").to_string(),
            });
        }
    }
    serde_json::from_value(value).map_err(json_error(path))
}

/// A model that can be rebuilt from its configuration: saved as a folder holding
/// [`CONFIG_FILE`] and [`WEIGHTS_FILE`], loaded back in one call.
pub trait SavedModel: Module + Sized {
    /// The name of this kind of model in `config.json` (`"vanilla"`, `"vae"`, ...).
    const KIND: &'static str;

    /// The configuration type.
    type Config: Config;

    /// The configuration this model was built from.
    fn config(&self) -> &Self::Config;

    /// Builds a freshly initialised model, validating the configuration.
    fn from_config(config: &Self::Config, device: &Device) -> Result<Self>;

    /// Writes `config.json` and `model.bpk` into `dir` (created if needed). A model whose
    /// weights are not all finite is refused ([`ModelError::NonFiniteWeights`]): nothing is
    /// written.
    fn save(&self, dir: &Path) -> Result<()> {
        self.save_as(dir, WeightsPrecision::F32)
    }

    /// As [`SavedModel::save`], with the weights stored at `precision`.
    fn save_as(&self, dir: &Path, precision: WeightsPrecision) -> Result<()> {
        check_finite_weights(self, dir)?;
        fs::create_dir_all(dir).map_err(|e| ModelError::Write {
            path: dir.to_path_buf(),
            source: e,
        })?;
        save_config(Self::KIND, self.config(), &dir.join(CONFIG_FILE))?;
        save_weights_as(self.clone(), &dir.join(WEIGHTS_FILE), precision)
    }

    /// Loads a model saved by [`SavedModel::save`] onto `device`, refusing weights that are not
    /// all finite.
    fn load(dir: &Path, device: &Device) -> Result<Self> {
        check_model_folder(dir)?;
        let config_path = dir.join(CONFIG_FILE);
        let config: Self::Config = load_config(Self::KIND, &config_path)?;
        let model =
            Self::from_config(&config, device).map_err(|e| e.in_config_file(&config_path))?;
        let path = dir.join(WEIGHTS_FILE);
        let model = load_weights(model, &path)?;
        check_finite_weights(&model, &path)?;
        Ok(model)
    }
}

/// A model that writes its folder (`config.json` and `model.bpk`): every [`SavedModel`], and
/// [`AnyAutoencoder`](crate::AnyAutoencoder).
pub trait SaveFolder {
    /// Writes the folder, as [`SavedModel::save`] does.
    ///
    /// # Errors
    /// As [`SavedModel::save`].
    fn save_folder(&self, dir: &Path) -> Result<()> {
        self.save_folder_as(dir, WeightsPrecision::F32)
    }

    /// Writes the folder with the weights stored at `precision`.
    ///
    /// # Errors
    /// As [`SavedModel::save`].
    fn save_folder_as(&self, dir: &Path, precision: WeightsPrecision) -> Result<()>;

    /// As [`SaveFolder::save_folder_as`], returning the model as stored: its weights rounded to
    /// `precision`, so that figures computed with it afterwards are the saved file's. Weights
    /// `precision` cannot hold are refused before anything is written ([`check_storable`]).
    ///
    /// # Errors
    /// [`ModelError::WeightsOutOfRange`], or as [`SavedModel::save`].
    fn save_rounded(self, dir: &Path, precision: WeightsPrecision) -> Result<Self>
    where
        Self: Module + Sized,
    {
        check_storable(&self, precision, dir)?;
        let model = round_weights(self, precision);
        model.save_folder_as(dir, precision)?;
        Ok(model)
    }
}

impl<M: SavedModel> SaveFolder for M {
    fn save_folder_as(&self, dir: &Path, precision: WeightsPrecision) -> Result<()> {
        self.save_as(dir, precision)
    }
}

/// Writes what every model of the zoo has in common, from its model type, its configuration type
/// and its kind (the name in `config.json`):
///
/// - `Config::try_init(&device)`, which validates the configuration and builds the model, and
///   `Config::init(&device)`, which panics on an invalid configuration (as Burn's layers do);
/// - [`SavedModel`] (`save`, `load`, `config`).
///
/// The model must have a `config` field holding its configuration and a
/// `pub(crate) fn new(config: &Config, device: &Device) -> Self`; the configuration must have a
/// `pub fn validate(&self) -> Result<()>`. A model folder invokes it once, in its `mod.rs`.
macro_rules! zoo_model {
    ($model:ident, $config:ident, $kind:literal) => {
        impl $config {
            /// Builds the model on `device`, after [`validate`](Self::validate).
            ///
            /// # Errors
            /// [`ModelError::InvalidConfig`](crate::ModelError::InvalidConfig) naming the field
            /// that is out of range.
            pub fn try_init(&self, device: &burn::tensor::Device) -> crate::Result<$model> {
                self.validate()?;
                Ok($model::new(self, device))
            }

            /// Builds the model on `device`.
            ///
            /// # Panics
            /// When the configuration is invalid; use [`try_init`](Self::try_init) for
            /// configurations that come from users or files.
            pub fn init(&self, device: &burn::tensor::Device) -> $model {
                match self.try_init(device) {
                    Ok(model) => model,
                    Err(err) => panic!("{err}"),
                }
            }
        }

        impl crate::persist::SavedModel for $model {
            const KIND: &'static str = $kind;
            type Config = $config;

            fn config(&self) -> &$config {
                &self.config
            }

            fn from_config(config: &$config, device: &burn::tensor::Device) -> crate::Result<Self> {
                config.try_init(device)
            }
        }
    };
}
pub(crate) use zoo_model;
