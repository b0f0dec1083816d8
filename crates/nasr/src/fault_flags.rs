//! The fault-model flags of the commands that inject faults (`nasr train --fault ...`).

use anyhow::{Result, bail};
use clap::Args;
use nasr_nn::faults::{FaultModel, FaultRate, FeatureFault, WeightFault};

/// A fault model from the command line.
#[derive(Debug, Args)]
#[command(next_help_heading = "Faults (FTT-NAS)")]
pub struct FaultArgs {
    /// Fault model: mibb (a +-2^b bias in each faulty feature element's 8-bit frame), bitflip
    /// (bit b of its 8-bit integer flipped), gaussian (noise on every feature element),
    /// salt-pepper (0 or the maximum), or adsaf (stuck-at bits of 8-bit weights).
    #[arg(long, value_name = "MODEL", value_parser = ["mibb", "bitflip", "gaussian", "salt-pepper", "adsaf"])]
    pub fault: Option<String>,
    /// mibb, bitflip, salt-pepper: probability per output element (with --fault-per-mac, per
    /// multiply-add: an element of M multiply-adds is faulty with 1 - (1 - p0)^M); adsaf: per
    /// weight bit [default: 0.1 for adsaf].
    #[arg(long, value_name = "P")]
    pub fault_rate: Option<f64>,
    /// --fault-rate is per multiply-add (aw_nas's inject_propto_flops).
    #[arg(long)]
    pub fault_per_mac: bool,
    /// gaussian: the noise's standard deviation [default: 1].
    #[arg(long, value_name = "SIGMA")]
    pub fault_sigma: Option<f64>,
}

impl FaultArgs {
    /// The fault model of the flags, none without --fault; a flag of another model is refused.
    pub fn model(&self) -> Result<Option<FaultModel>> {
        let Some(name) = self.fault.as_deref() else {
            if self.fault_rate.is_some() || self.fault_sigma.is_some() || self.fault_per_mac {
                bail!("--fault-rate, --fault-sigma and --fault-per-mac need --fault MODEL");
            }
            return Ok(None);
        };
        if name == "gaussian" && (self.fault_rate.is_some() || self.fault_per_mac) {
            bail!("--fault gaussian takes --fault-sigma, not --fault-rate");
        }
        if name != "gaussian" && self.fault_sigma.is_some() {
            bail!("--fault-sigma is gaussian's; --fault {name} takes --fault-rate");
        }
        if matches!(name, "salt-pepper" | "adsaf") && self.fault_per_mac {
            bail!("--fault-per-mac applies to mibb and bitflip");
        }
        let rate = || -> Result<f64> {
            self.fault_rate
                .ok_or_else(|| anyhow::anyhow!("--fault {name} needs --fault-rate P"))
        };
        let element_rate = || -> Result<FaultRate> {
            Ok(if self.fault_per_mac {
                FaultRate::PerMac(rate()?)
            } else {
                FaultRate::PerElement(rate()?)
            })
        };
        let feature = |fault| FaultModel {
            feature: Some(fault),
            weight: None,
        };
        let model = match name {
            "mibb" => feature(FeatureFault::Mibb {
                rate: element_rate()?,
            }),
            "bitflip" => feature(FeatureFault::BitFlip {
                rate: element_rate()?,
            }),
            "gaussian" => feature(FeatureFault::Gaussian {
                sigma: self.fault_sigma.unwrap_or(1.0),
            }),
            "salt-pepper" => feature(FeatureFault::SaltPepper { p: rate()? }),
            _ => FaultModel {
                feature: None,
                weight: Some(WeightFault {
                    bit_fault: self.fault_rate.unwrap_or(0.1),
                    ..WeightFault::default()
                }),
            },
        };
        model.validate()?;
        Ok(Some(model))
    }
}
