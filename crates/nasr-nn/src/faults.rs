//! FTT-NAS's fault models (Ning et al.; code: aw_nas `objective/fault_injection.py`,
//! `fixed_point_rram_patch_bit.py`): faults on the feature maps a convolution outputs, and on
//! the weights it computes with, injected through the convolution hook
//! ([`nasr_kernels::conv_hook`]) so that every network is covered in one place and a cell's
//! concatenated output never is.
//!
//! Feature faults work in an 8-bit fixed-point frame from the tensor's range: `s =
//! ceil(log2 max|x|)`, `step = 2^(s - 7)`, values `-128 * step ..= 127 * step`.
//! - [`FeatureFault::Mibb`]: each output element is faulty with probability `p` (or `1 - (1 -
//!   p0)^M` for `p0` per multiply-add, M the multiply-adds behind the element); a fault adds
//!   `+-step * 2^b`, `b` uniform in 0..8, clamped to the frame;
//! - [`FeatureFault::BitFlip`]: the same draws, but bit `b` of the element's 8-bit two's
//!   complement integer is flipped (equal to MiBB's `+` bias where the bit was clear);
//! - [`FeatureFault::Gaussian`]: `x + N(0, sigma^2)` on every element;
//! - [`FeatureFault::SaltPepper`]: each element becomes 0 or `max|x|`, each with `p / 2`.
//!
//! [`WeightFault`] is adSAF: 8-bit sign-magnitude weights (`step = 2^(ceil(log2 max|W|) - 7)`,
//! 7 magnitude bits), each bit faulty with probability `bit_fault` and then stuck at 1 with
//! probability `stuck_at_one`, else at 0; resampled every forward; the gradient passes straight
//! through except where the faulty integer moved by more than 8.
//!
//! Every draw comes from one seeded stream, in the order the convolutions run, so a run is
//! reproducible. The rest of the network computes in f32.

use std::cell::RefCell;
use std::rc::Rc;

use burn::tensor::{Tensor, TensorData};
use nasr_kernels::conv_hook::{ConvHook, SharedHook, with_conv_hook};
use rand::Rng;
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::NnError;

/// How often an output element is faulty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultRate {
    /// Probability `p` per output element.
    PerElement(f64),
    /// Probability `p0` per multiply-add: an element of M multiply-adds is faulty with
    /// `1 - (1 - p0)^M` (aw_nas's `inject_propto_flops`).
    PerMac(f64),
}

impl FaultRate {
    /// The probability that an element of `macs` multiply-adds is faulty.
    pub fn element_probability(self, macs: usize) -> f64 {
        match self {
            Self::PerElement(p) => p,
            Self::PerMac(p0) => 1.0 - (1.0 - p0).powf(macs as f64),
        }
    }

    fn check(self) -> Result<(), NnError> {
        let (Self::PerElement(p) | Self::PerMac(p)) = self;
        probability("fault rate", p)
    }
}

/// A fault model on the feature maps convolutions output.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum FeatureFault {
    /// MiBB: an additive bias of `+-step * 2^b`, clamped to the 8-bit frame.
    Mibb {
        /// How often an element is faulty.
        rate: FaultRate,
    },
    /// Bit `b` of the element's 8-bit integer flipped.
    BitFlip {
        /// How often an element is faulty.
        rate: FaultRate,
    },
    /// Gaussian noise on every element.
    Gaussian {
        /// Its standard deviation.
        sigma: f64,
    },
    /// Each element 0 or `max|x|`, each with probability `p / 2`.
    SaltPepper {
        /// Probability that an element is hit.
        p: f64,
    },
}

/// adSAF: stuck-at faults of the bits of 8-bit sign-magnitude weights (RRAM cells).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WeightFault {
    /// Probability that a magnitude bit is faulty (aw_nas: 0.1).
    pub bit_fault: f64,
    /// Probability that a faulty bit is stuck at 1, else at 0 (aw_nas: 0.16).
    pub stuck_at_one: f64,
}

impl Default for WeightFault {
    fn default() -> Self {
        Self {
            bit_fault: 0.1,
            stuck_at_one: 0.16,
        }
    }
}

/// The faults of a forward pass: on feature maps, on weights, or both.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultModel {
    /// Faults on every convolution's output.
    pub feature: Option<FeatureFault>,
    /// Faults on every convolution's weight.
    pub weight: Option<WeightFault>,
}

impl FaultModel {
    /// Checks every rate; the error names it.
    pub fn validate(&self) -> Result<(), NnError> {
        match self.feature {
            Some(FeatureFault::Mibb { rate } | FeatureFault::BitFlip { rate }) => rate.check()?,
            Some(FeatureFault::Gaussian { sigma }) if !(sigma.is_finite() && sigma >= 0.0) => {
                return Err(NnError::Config {
                    field: "fault sigma",
                    problem: format!("must be a non-negative number, got {sigma}"),
                });
            }
            Some(FeatureFault::SaltPepper { p }) => probability("fault rate", p)?,
            _ => {}
        }
        if let Some(w) = self.weight {
            probability("bit fault probability", w.bit_fault)?;
            probability("stuck-at-one probability", w.stuck_at_one)?;
        }
        Ok(())
    }
}

fn probability(field: &'static str, p: f64) -> Result<(), NnError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(NnError::Config {
            field,
            problem: format!("must be a probability in [0, 1], got {p}"),
        })
    }
}

/// A fault model up to its rate, for sweeping the rate (robustness curves).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultFamily {
    /// MiBB; the rate is per element, or per multiply-add.
    Mibb {
        /// The rate is p0 per multiply-add.
        per_mac: bool,
    },
    /// The bit-flip model; the rate as MiBB's.
    BitFlip {
        /// The rate is p0 per multiply-add.
        per_mac: bool,
    },
    /// Gaussian noise; the rate is sigma.
    Gaussian,
    /// Salt and pepper; the rate is p.
    SaltPepper,
    /// adSAF on weights; the rate is the per-bit fault probability (stuck at 1 with 0.16).
    Adsaf,
}

impl FaultFamily {
    /// The model at `rate`.
    pub fn at(self, rate: f64) -> FaultModel {
        let element = |per_mac| {
            if per_mac {
                FaultRate::PerMac(rate)
            } else {
                FaultRate::PerElement(rate)
            }
        };
        let feature = |fault| FaultModel {
            feature: Some(fault),
            weight: None,
        };
        match self {
            Self::Mibb { per_mac } => feature(FeatureFault::Mibb {
                rate: element(per_mac),
            }),
            Self::BitFlip { per_mac } => feature(FeatureFault::BitFlip {
                rate: element(per_mac),
            }),
            Self::Gaussian => feature(FeatureFault::Gaussian { sigma: rate }),
            Self::SaltPepper => feature(FeatureFault::SaltPepper { p: rate }),
            Self::Adsaf => FaultModel {
                feature: None,
                weight: Some(WeightFault {
                    bit_fault: rate,
                    ..WeightFault::default()
                }),
            },
        }
    }

    /// Its name on the command line (`mibb`, `bitflip`, `gaussian`, `salt-pepper`, `adsaf`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Mibb { .. } => "mibb",
            Self::BitFlip { .. } => "bitflip",
            Self::Gaussian => "gaussian",
            Self::SaltPepper => "salt-pepper",
            Self::Adsaf => "adsaf",
        }
    }

    /// What its rate is.
    pub fn rate_name(self) -> &'static str {
        match self {
            Self::Mibb { per_mac: true } | Self::BitFlip { per_mac: true } => {
                "fault probability per multiply-add"
            }
            Self::Mibb { .. } | Self::BitFlip { .. } | Self::SaltPepper => {
                "fault probability per element"
            }
            Self::Gaussian => "noise sigma",
            Self::Adsaf => "fault probability per weight bit",
        }
    }
}

/// The 8-bit fixed-point frame of values whose largest magnitude is `max_abs`: its step
/// `2^(ceil(log2 max_abs) - 7)`; 0 when every value is 0.
pub fn frame_step(max_abs: f32) -> f32 {
    if max_abs <= 0.0 || !max_abs.is_finite() {
        return 0.0;
    }
    2f32.powi(max_abs.log2().ceil() as i32 - 7)
}

/// The positions of a Bernoulli(`p`) process over `0..len`, drawn by geometric gaps (one draw
/// per fault rather than per element).
pub fn faulty_positions(len: usize, p: f64, rng: &mut impl Rng) -> Vec<usize> {
    if p <= 0.0 {
        return Vec::new();
    }
    if p >= 1.0 {
        return (0..len).collect();
    }
    let log_q = (1.0 - p).ln();
    let mut positions = Vec::new();
    let mut next = 0usize;
    loop {
        let u: f64 = 1.0 - rng.random::<f64>();
        let gap = (u.ln() / log_q).floor();
        if !gap.is_finite() || gap >= (len - next.min(len)) as f64 {
            return positions;
        }
        next += gap as usize;
        positions.push(next);
        next += 1;
    }
}

/// The 8-bit frame's bounds for `step`: `-128 * step` and `127 * step`.
fn frame(step: f32) -> (f32, f32) {
    (-128.0 * step, 127.0 * step)
}

/// MiBB's faulty value: `value + sign * step * 2^bit`, clamped to the frame.
pub fn biased(value: f32, step: f32, bit: u32, positive: bool) -> f32 {
    let (low, high) = frame(step);
    let bias = step * (1u32 << bit) as f32;
    (if positive { value + bias } else { value - bias }).clamp(low, high)
}

/// The bit-flip model's faulty value: bit `bit` of `value`'s 8-bit two's complement integer
/// (`round(value / step)`, saturated) flipped.
pub fn flipped(value: f32, step: f32, bit: u32) -> f32 {
    let q = (value / step).round().clamp(-128.0, 127.0) as i8;
    f32::from(q ^ (1u8 << bit) as i8) * step
}

/// MiBB or bit-flip faults on `values` at probability `p` each: the new values of the faulty
/// elements, as `(position, value)`. Both models draw a bit and a sign per fault, so one seed
/// gives both the same faults.
pub fn bit_faults(values: &[f32], p: f64, flip: bool, rng: &mut impl Rng) -> Vec<(usize, f32)> {
    let max_abs = values.iter().fold(0f32, |m, v| m.max(v.abs()));
    let step = frame_step(max_abs);
    if step == 0.0 {
        return Vec::new();
    }
    faulty_positions(values.len(), p, rng)
        .into_iter()
        .map(|i| {
            let bit = rng.random_range(0..8u32);
            let positive = rng.random::<bool>();
            let value = if flip {
                flipped(values[i], step, bit)
            } else {
                biased(values[i], step, bit, positive)
            };
            (i, value)
        })
        .collect()
}

/// What adSAF drew for one weight tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct AdsafDraw {
    /// The weights as the faulty cells hold them: unchanged where no bit moved, else on the
    /// 8-bit sign-magnitude grid.
    pub values: Vec<f32>,
    /// 1 where the gradient passes (the integer moved by at most 8), else 0.
    pub mask: Vec<f32>,
    /// Weights none of whose 7 bits was faulty.
    pub clean: usize,
    /// Faulty bits.
    pub faulty_bits: usize,
    /// Faulty bits stuck at 1.
    pub stuck_at_one: usize,
}

/// adSAF on `weights`.
pub fn adsaf(weights: &[f32], fault: WeightFault, rng: &mut impl Rng) -> AdsafDraw {
    let max_abs = weights.iter().fold(0f32, |m, v| m.max(v.abs()));
    let step = frame_step(max_abs);
    let mut draw = AdsafDraw {
        values: Vec::with_capacity(weights.len()),
        mask: Vec::with_capacity(weights.len()),
        clean: 0,
        faulty_bits: 0,
        stuck_at_one: 0,
    };
    for &w in weights {
        let magnitude = if step == 0.0 {
            0
        } else {
            (w.abs() / step).round().min(127.0) as u8
        };
        let mut stuck = magnitude;
        let mut any = false;
        for bit in 0..7 {
            if rng.random::<f64>() < fault.bit_fault {
                any = true;
                draw.faulty_bits += 1;
                if rng.random::<f64>() < fault.stuck_at_one {
                    draw.stuck_at_one += 1;
                    stuck |= 1 << bit;
                } else {
                    stuck &= !(1 << bit);
                }
            }
        }
        draw.clean += usize::from(!any);
        draw.values.push(if stuck == magnitude {
            w
        } else {
            w.signum() * f32::from(stuck) * step
        });
        let moved = (i16::from(stuck) - i16::from(magnitude)).abs();
        draw.mask.push(if moved > 8 { 0.0 } else { 1.0 });
    }
    draw
}

/// A fault model drawing from one stream: the convolution hook of a faulty forward.
pub struct FaultInjector {
    model: FaultModel,
    rng: ChaCha12Rng,
    /// Feature elements made faulty so far.
    pub faulty_elements: u64,
    /// Feature elements seen so far.
    pub elements: u64,
}

impl FaultInjector {
    /// An injector of `model` drawing from `rng` (a named stream of the run's seed).
    pub fn new(model: FaultModel, rng: ChaCha12Rng) -> Self {
        Self {
            model,
            rng,
            faulty_elements: 0,
            elements: 0,
        }
    }

    /// Runs `f` with every convolution of this thread faulty; returns its result and the
    /// injector (its stream advanced past the draws).
    pub fn run<R>(self, f: impl FnOnce() -> R) -> (R, Self) {
        let shared = Rc::new(RefCell::new(self));
        let hook: SharedHook = shared.clone();
        let result = with_conv_hook(hook, f);
        let injector = Rc::try_unwrap(shared)
            .ok()
            .expect("the hook is released after the closure")
            .into_inner();
        (result, injector)
    }
}

impl ConvHook for FaultInjector {
    fn weight(&mut self, weight: Tensor<4>) -> Tensor<4> {
        let Some(fault) = self.model.weight else {
            return weight;
        };
        let shape = weight.dims();
        let values: Vec<f32> = weight
            .to_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 weights");
        let draw = adsaf(&values, fault, &mut self.rng);
        let device = weight.device();
        let faulty = Tensor::<4>::from_data(TensorData::new(draw.values, shape), &device);
        let mask = Tensor::<4>::from_data(TensorData::new(draw.mask, shape), &device);
        // Value: the faulty weight; gradient: straight through where the mask is 1.
        let passed = weight * mask;
        passed.clone() + (faulty - passed).detach()
    }

    fn output(&mut self, output: Tensor<4>, macs_per_output: usize) -> Tensor<4> {
        let Some(fault) = self.model.feature else {
            return output;
        };
        let shape = output.dims();
        let values: Vec<f32> = output
            .to_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 outputs");
        self.elements += values.len() as u64;
        let mut delta = vec![0f32; values.len()];
        match fault {
            FeatureFault::Mibb { rate } | FeatureFault::BitFlip { rate } => {
                let p = rate.element_probability(macs_per_output);
                let flip = matches!(fault, FeatureFault::BitFlip { .. });
                for (i, v) in bit_faults(&values, p, flip, &mut self.rng) {
                    delta[i] = v - values[i];
                    self.faulty_elements += 1;
                }
            }
            FeatureFault::Gaussian { sigma } => {
                for d in &mut delta {
                    *d = (f64::from(crate::init::standard_normal(&mut self.rng)) * sigma) as f32;
                }
                self.faulty_elements += values.len() as u64;
            }
            FeatureFault::SaltPepper { p } => {
                let max_abs = values.iter().fold(0f32, |m, v| m.max(v.abs()));
                for i in faulty_positions(values.len(), p, &mut self.rng) {
                    let salt = self.rng.random::<bool>();
                    delta[i] = if salt { max_abs } else { 0.0 } - values[i];
                    self.faulty_elements += 1;
                }
            }
        }
        let device = output.device();
        // The faults are constants added to the output: its gradient passes through unchanged.
        output + Tensor::<4>::from_data(TensorData::new(delta, shape), &device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::optim::GradientsParams;
    use nasr_kernels::Conv2d;
    use nasr_space::SeedStreams;

    fn stream(name: &str) -> ChaCha12Rng {
        SeedStreams::new(5).stream(name)
    }

    fn features(seed: u64, shape: [usize; 4]) -> Tensor<4> {
        crate::init::normal_tensor(
            shape,
            &mut SeedStreams::new(seed).stream("x"),
            &crate::Compute::Cpu.eval_device(),
        )
    }

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    fn inject(
        model: FaultModel,
        x: Tensor<4>,
        macs: usize,
        seed: &str,
    ) -> (Vec<f32>, FaultInjector) {
        let mut injector = FaultInjector::new(model, stream(seed));
        let y = injector.output(x, macs);
        (values(y), injector)
    }

    fn feature(fault: FeatureFault) -> FaultModel {
        FaultModel {
            feature: Some(fault),
            weight: None,
        }
    }

    /// Within 3 sigma of a binomial(n, p) count.
    fn within_three_sigma(count: u64, n: u64, p: f64) -> bool {
        let sd = (n as f64 * p * (1.0 - p)).sqrt();
        (count as f64 - n as f64 * p).abs() <= 3.0 * sd
    }

    #[test]
    fn every_injector_is_the_identity_at_rate_zero() {
        let x = features(1, [2, 3, 8, 8]);
        let clean = values(x.clone());
        for fault in [
            FeatureFault::Mibb {
                rate: FaultRate::PerElement(0.0),
            },
            FeatureFault::BitFlip {
                rate: FaultRate::PerMac(0.0),
            },
            FeatureFault::Gaussian { sigma: 0.0 },
            FeatureFault::SaltPepper { p: 0.0 },
        ] {
            assert_eq!(
                inject(feature(fault), x.clone(), 9, "a").0,
                clean,
                "{fault:?}"
            );
        }
        let w: Vec<f32> = clean.clone();
        let none = WeightFault {
            bit_fault: 0.0,
            stuck_at_one: 0.16,
        };
        assert_eq!(adsaf(&w, none, &mut stream("w")).values, w);
    }

    /// The empirical fault rate is within 3 sigma of p, and of 1 - (1 - p0)^M with M the
    /// multiply-adds a real convolution passes to the hook.
    #[test]
    fn fault_rates_match_p_and_the_per_mac_rate() {
        let x = features(2, [4, 8, 32, 32]);
        let n = 4 * 8 * 32 * 32;
        for p in [0.001, 0.01, 0.2] {
            let fault = FeatureFault::Mibb {
                rate: FaultRate::PerElement(p),
            };
            let (_, injector) = inject(feature(fault), x.clone(), 1, "rate");
            assert!(
                within_three_sigma(injector.faulty_elements, n, p),
                "{p}: {}",
                injector.faulty_elements
            );
        }
        // A 3x3 convolution from 4 channels: M = 36 multiply-adds per output element.
        let device = crate::Compute::Cpu.eval_device();
        let conv: Conv2d = burn::nn::conv::Conv2dConfig::new([4, 8], [3, 3])
            .with_padding(burn::nn::PaddingConfig2d::Same)
            .init(&device)
            .into();
        let p0 = 1e-3;
        let model = feature(FeatureFault::Mibb {
            rate: FaultRate::PerMac(p0),
        });
        let input = features(3, [16, 4, 32, 32]);
        let (y, injector) = FaultInjector::new(model, stream("mac")).run(|| conv.forward(input));
        assert_eq!(injector.elements, y.shape().num_elements() as u64);
        let p = 1.0 - (1.0 - p0).powi(36);
        assert!(
            within_three_sigma(injector.faulty_elements, injector.elements, p),
            "{} of {} against p = {p}",
            injector.faulty_elements,
            injector.elements
        );
    }

    /// A MiBB fault moves a value by +-step * 2^b (b in 0..8) unless the frame clamps it, and
    /// every faulty value stays in the frame.
    #[test]
    fn a_mibb_fault_is_a_power_of_two_step_within_the_frame() {
        let x = features(4, [2, 4, 16, 16]);
        let clean = values(x.clone());
        let step = frame_step(clean.iter().fold(0f32, |m, v| m.max(v.abs())));
        let (low, high) = (-128.0 * step, 127.0 * step);
        let fault = FeatureFault::Mibb {
            rate: FaultRate::PerElement(0.3),
        };
        let (faulty, _) = inject(feature(fault), x, 1, "bias");
        let mut changed = 0;
        for (&a, &b) in clean.iter().zip(&faulty) {
            if a == b {
                continue;
            }
            changed += 1;
            assert!((low..=high).contains(&b), "{b} outside [{low}, {high}]");
            let moved = ((b - a).abs() / step).round() as u32;
            let clamped = b == low || b == high;
            assert!(
                clamped || (moved.is_power_of_two() && moved <= 128),
                "{a} -> {b}"
            );
        }
        assert!(changed > 300, "{changed}");
    }

    /// On every 8-bit integer and bit below the sign bit, MiBB's + bias and the bit flip agree
    /// exactly when the bit is clear.
    #[test]
    fn bias_and_xor_differ_only_where_the_bit_is_set() {
        let step = 0.25;
        for q in -128i32..=127 {
            let value = q as f32 * step;
            for bit in 0..7 {
                let set = (q as i8 as u8) & (1 << bit) != 0;
                let bias = biased(value, step, bit, true);
                let flip = flipped(value, step, bit);
                let in_frame = q + (1 << bit) <= 127;
                if in_frame {
                    assert_eq!(bias == flip, !set, "q {q} bit {bit}: {bias} vs {flip}");
                }
            }
        }
    }

    /// adSAF at the code's probabilities: about 47.8% of weights clean, 16% of faulty bits stuck
    /// at 1, changed weights on the 8-bit grid.
    #[test]
    fn adsaf_has_the_clean_and_stuck_at_one_fractions_and_stays_on_the_grid() {
        let w = values(features(6, [64, 32, 3, 3]));
        let draw = adsaf(&w, WeightFault::default(), &mut stream("adsaf"));
        let n = w.len() as u64;
        assert!(
            within_three_sigma(draw.clean as u64, n, 0.9f64.powi(7)),
            "{}",
            draw.clean
        );
        assert!(
            within_three_sigma(draw.stuck_at_one as u64, draw.faulty_bits as u64, 0.16),
            "{} of {}",
            draw.stuck_at_one,
            draw.faulty_bits
        );
        let step = frame_step(w.iter().fold(0f32, |m, v| m.max(v.abs())));
        for (&a, &b) in w.iter().zip(&draw.values) {
            if a != b {
                let q = b / step;
                assert!(
                    (q - q.round()).abs() < 1e-4 && q.abs() <= 127.0,
                    "{b} off the grid"
                );
            }
        }
    }

    /// The weight's gradient through adSAF is zero exactly where the faulty integer moved by
    /// more than 8, and passes unchanged elsewhere.
    #[test]
    fn the_adsaf_gradient_is_masked_where_the_integer_moved_by_more_than_eight() {
        let device = crate::Compute::Cpu.train_device();
        let conv: Conv2d = burn::nn::conv::Conv2dConfig::new([8, 8], [3, 3])
            .init(&device)
            .into();
        let conv = conv.train();
        let stored: Vec<f32> = conv.weight.val().into_data().try_to_vec::<f32>().unwrap();
        let model = FaultModel {
            feature: None,
            weight: Some(WeightFault {
                bit_fault: 0.3,
                stuck_at_one: 0.5,
            }),
        };
        let mut injector = FaultInjector::new(model, stream("mask"));
        let faulty = injector.weight(conv.weight.val());
        let faulty_values: Vec<f32> = faulty.clone().into_data().try_to_vec::<f32>().unwrap();
        let grads = GradientsParams::from_grads(faulty.sum().backward(), &conv);
        let grad: Vec<f32> = grads
            .get::<4>(conv.weight.id)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let step = frame_step(stored.iter().fold(0f32, |m, v| m.max(v.abs())));
        let (mut masked, mut passed) = (0, 0);
        for ((&w, &f), &g) in stored.iter().zip(&faulty_values).zip(&grad) {
            let before = (w.abs() / step).round().min(127.0);
            let after = (f.abs() / step).round();
            if (after - before).abs() > 8.0 {
                assert_eq!(g, 0.0);
                masked += 1;
            } else {
                assert_eq!(g, 1.0);
                passed += 1;
            }
        }
        assert!(masked > 20 && passed > 20, "{masked} / {passed}");
    }

    /// The same stream gives the same faults; another stream other faults.
    #[test]
    fn seeded_fault_draws_repeat() {
        let x = features(7, [2, 4, 8, 8]);
        for fault in [
            FeatureFault::Mibb {
                rate: FaultRate::PerElement(0.1),
            },
            FeatureFault::Gaussian { sigma: 0.5 },
            FeatureFault::SaltPepper { p: 0.1 },
        ] {
            let once = inject(feature(fault), x.clone(), 1, "same").0;
            assert_eq!(inject(feature(fault), x.clone(), 1, "same").0, once);
            assert_ne!(inject(feature(fault), x.clone(), 1, "other").0, once);
        }
    }

    #[test]
    fn salt_and_pepper_sets_zero_or_the_maximum() {
        let x = features(8, [2, 4, 16, 16]);
        let clean = values(x.clone());
        let max = clean.iter().fold(0f32, |m, v| m.max(v.abs()));
        let (faulty, injector) = inject(feature(FeatureFault::SaltPepper { p: 0.2 }), x, 1, "sp");
        let changed: Vec<f32> = clean
            .iter()
            .zip(&faulty)
            .filter(|(a, b)| a != b)
            .map(|(_, &b)| b)
            .collect();
        // Set by adding the difference, so to float rounding.
        let near = |v: f32, target: f32| (v - target).abs() <= 1e-6 * max;
        assert!(
            changed.iter().all(|&v| near(v, 0.0) || near(v, max)),
            "{changed:?}"
        );
        assert!(within_three_sigma(
            injector.faulty_elements,
            clean.len() as u64,
            0.2
        ));
    }

    /// Counts the convolutions a forward runs through the hook.
    struct Counter(usize);

    impl ConvHook for Counter {
        fn weight(&mut self, weight: Tensor<4>) -> Tensor<4> {
            weight
        }
        fn output(&mut self, output: Tensor<4>, _: usize) -> Tensor<4> {
            self.0 += 1;
            output
        }
    }

    /// Only convolutions are hooked: an NB201 network whose 6 cell edges are convolutions
    /// passes the hook exactly 6 times per cell more than one whose edges are skips and
    /// pools; a cell's sum of edges (as a concatenation) is never injected.
    #[test]
    fn only_convolutions_pass_the_hook_never_a_cells_combination() {
        use nasr_space::Space;
        let device = crate::Compute::Cpu.eval_device();
        let space = nasr_space::Nb201Space::new();
        let network = crate::nets::nb201::Nb201NetworkConfig {
            channels: 4,
            cells: 1,
            in_channels: 1,
            classes: 3,
        };
        let x = features(9, [1, 1, 8, 8]);
        let calls = |arch: &str| {
            let arch = space.parse(arch).unwrap();
            let net = network.init(&arch, &device).unwrap();
            let counter = Rc::new(RefCell::new(Counter(0)));
            let hook: SharedHook = counter.clone();
            with_conv_hook(hook, || net.forward(x.clone()));
            counter.borrow().0
        };
        let convs = calls(
            "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|",
        );
        let none = calls(
            "|skip_connect~0|+|avg_pool_3x3~0|skip_connect~1|+|skip_connect~0|avg_pool_3x3~1|none~2|",
        );
        assert_eq!(convs - none, 6 * 3, "{convs} vs {none}");
    }

    #[test]
    fn a_bad_rate_is_refused_by_name() {
        let bad = feature(FeatureFault::Mibb {
            rate: FaultRate::PerElement(1.5),
        });
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("fault rate must be a probability")
        );
        let sigma = feature(FeatureFault::Gaussian { sigma: -1.0 });
        assert!(
            sigma
                .validate()
                .unwrap_err()
                .to_string()
                .contains("fault sigma")
        );
    }
}
