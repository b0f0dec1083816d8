//! DNA's teacher: a trained network whose features at the student space's stage boundaries
//! supervise the student's blocks. Any `nasr train` run folder of the MobileNet space whose
//! network has the student's boundary shapes serves; it must not itself be a candidate of the
//! student space (a candidate teacher would pull the ranking towards itself).

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use nasr_nn::NnError;
use nasr_nn::nets::mobilenet::MobileNetNetwork;
use nasr_space::mobilenet::MobileNetConfig;
use nasr_space::{MobileNetSpace, Space};

use crate::run::TrainRunConfig;
use crate::space::SpaceConfig;

/// A trained teacher network on the evaluation device, with its space.
pub struct Teacher {
    /// The run folder it was loaded from.
    pub folder: PathBuf,
    /// Its space, sized to the student's data.
    pub space: MobileNetSpace,
    /// The trained network (evaluation mode: BatchNorm uses its running statistics).
    pub network: MobileNetNetwork,
    /// Its architecture, canonical.
    pub arch: String,
}

impl Teacher {
    /// The network of run folder `folder` (`config.toml` and `model.safetensors` of `nasr
    /// train`), built for the input size, channels and classes of `student`, on `device`.
    pub fn load(folder: &Path, student: &MobileNetSpace, device: &Device) -> Result<Self, NnError> {
        let (config, config_path) = TrainRunConfig::read_from(folder)?;
        let (SpaceConfig::Mobilenet(sizes) | SpaceConfig::Proxyless(sizes)) = &config.space else {
            return Err(NnError::Checkpoint {
                path: config_path,
                problem: format!(
                    "the teacher is a {} network; DNA's teacher must be of the mobilenet space",
                    config.space.name()
                ),
            });
        };
        let s = student.config();
        let space = MobileNetSpace::new(MobileNetConfig {
            input_size: s.input_size,
            in_channels: s.in_channels,
            classes: s.classes,
            ..sizes.clone()
        })?;
        check_boundaries(&space, student)?;
        let arch = space.parse(&config.arch)?;
        refuse_candidate(&space, &arch, student)?;
        let weights = folder.join("model.safetensors");
        let tensors = nasr_nn::params::load_safetensors(&weights)?;
        let network = MobileNetNetwork::new(&space, &arch, device)?;
        let network = nasr_nn::params::load_named(network, &tensors, &weights)?;
        Ok(Self {
            folder: folder.to_path_buf(),
            arch: space.format(&arch),
            space,
            network,
        })
    }

    /// The teacher's features at the stage boundaries of `images`: the stem's output, then
    /// each stage's (block i's input is entry i, its target entry i + 1).
    pub fn features(&self, images: Tensor<4>) -> Vec<Tensor<4>> {
        self.network.stage_features(&self.space, images)
    }

    /// Block `block`'s input and target on `images`: the teacher's features at boundaries
    /// `block` and `block + 1` (block 0 takes the teacher's stem output). A block never sees
    /// the student's own earlier blocks.
    pub fn block_io(&self, images: Tensor<4>, block: usize) -> (Tensor<4>, Tensor<4>) {
        let mut features = self.features(images);
        let target = features.swap_remove(block + 1);
        (features.swap_remove(block), target)
    }

    /// [`Teacher::block_io`] of batch `index` of `batcher` (over `set`), computed on `device`
    /// (the evaluation device).
    pub fn batch_io(
        &self,
        set: &nasr_data::Dataset,
        batcher: &nasr_data::Batcher<'_>,
        index: usize,
        block: usize,
        device: &Device,
    ) -> (Tensor<4>, Tensor<4>) {
        let batch = batcher.plain_batch(index);
        let (images, _) = nasr_nn::train::to_tensors(&batch, set, device);
        self.block_io(images, block)
    }
}

/// The teacher's feature shapes at every stage boundary equal the student's; a mismatch is
/// refused naming the block and both shapes.
pub fn check_boundaries(teacher: &MobileNetSpace, student: &MobileNetSpace) -> Result<(), NnError> {
    let (t, s) = (teacher.stage_boundaries(), student.stage_boundaries());
    if t.len() != s.len() {
        return Err(NnError::Config {
            field: "teacher",
            problem: format!(
                "has {} stages; the student space has {} (DNA's blocks are the stages)",
                t.len() - 1,
                s.len() - 1
            ),
        });
    }
    for (boundary, (t, s)) in t.iter().zip(&s).enumerate() {
        if t != s {
            let place = match boundary {
                0 => "block 0's input (the stem's output)".to_string(),
                b => format!("block {}'s output", b - 1),
            };
            return Err(NnError::Config {
                field: "teacher",
                problem: format!(
                    "features at {place} are {}; the student's are {}",
                    shape(t),
                    shape(s)
                ),
            });
        }
    }
    Ok(())
}

fn shape([c, h, w]: &[usize; 3]) -> String {
    format!("{c}x{h}x{w}")
}

/// A teacher that is itself an architecture of the student space is refused.
fn refuse_candidate(
    space: &MobileNetSpace,
    arch: &nasr_space::Arch,
    student: &MobileNetSpace,
) -> Result<(), NnError> {
    if space.layers() == student.layers() {
        let text = space.format(arch);
        if student.parse(&text).is_ok() {
            return Err(NnError::Config {
                field: "teacher",
                problem: format!(
                    "{text} is itself a candidate of the student space; DNA's teacher lies \
                     outside it (deeper or wider), so that it does not rank itself first"
                ),
            });
        }
    }
    Ok(())
}
