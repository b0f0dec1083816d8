//! The fault-model flags of the commands that inject faults (`nasr train --fault ...`).

use anyhow::{Result, bail};
use clap::Args;
use nasr_nn::faults::{FaultFamily, FaultModel};

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
        let Some(family) = self.family()? else {
            if self.fault_rate.is_some() || self.fault_sigma.is_some() {
                bail!("--fault-rate and --fault-sigma need --fault MODEL");
            }
            return Ok(None);
        };
        let rate = match family {
            FaultFamily::Gaussian => {
                if self.fault_rate.is_some() {
                    bail!("--fault gaussian takes --fault-sigma, not --fault-rate");
                }
                self.fault_sigma.unwrap_or(1.0)
            }
            FaultFamily::Adsaf => self.fault_rate.unwrap_or(0.1),
            other => self
                .fault_rate
                .ok_or_else(|| anyhow::anyhow!("--fault {} needs --fault-rate P", other.name()))?,
        };
        if family != FaultFamily::Gaussian && self.fault_sigma.is_some() {
            bail!(
                "--fault-sigma is gaussian's; --fault {} takes --fault-rate",
                family.name()
            );
        }
        let model = family.at(rate);
        model.validate()?;
        Ok(Some(model))
    }

    /// The fault model up to its rate (for sweeps), none without --fault.
    pub fn family(&self) -> Result<Option<FaultFamily>> {
        let Some(name) = self.fault.as_deref() else {
            if self.fault_per_mac {
                bail!("--fault-per-mac needs --fault mibb or bitflip");
            }
            return Ok(None);
        };
        let per_mac = self.fault_per_mac;
        Ok(Some(match name {
            "mibb" => FaultFamily::Mibb { per_mac },
            "bitflip" => FaultFamily::BitFlip { per_mac },
            _ if per_mac => bail!("--fault-per-mac applies to mibb and bitflip"),
            "gaussian" => FaultFamily::Gaussian,
            "salt-pepper" => FaultFamily::SaltPepper,
            _ => FaultFamily::Adsaf,
        }))
    }
}
