//! Which instruction-set route nasr's kernels take, and the switch that forces one.
//!
//! By default each kernel takes the fastest route the processor has. `NASR_KERNELS` forces a
//! route for the whole process, so that a machine with AVX-512 can run exactly what a machine
//! without it runs (CI runs the kernel tests once per route), and so that each route can be
//! benchmarked on its own:
//!
//! | `NASR_KERNELS` | route |
//! |---|---|
//! | unset, empty or `auto` | the best this processor has |
//! | `avx512` | the AVX-512 kernels (refused on a processor without AVX-512F) |
//! | `avx2` | the AVX2 + FMA kernels (refused on a processor without both) |
//! | `portable` | no SIMD route of nasr's own: plain Rust that the compiler vectorises for the build target |
//!
//! The switch covers nasr's own kernels. The gemm crate that im2col convolutions call picks its
//! own microkernel per processor and has no such switch.

use std::fmt;
use std::sync::OnceLock;

/// The environment variable that forces a route.
pub const ROUTE_VARIABLE: &str = "NASR_KERNELS";

/// An instruction-set route of nasr's kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The AVX-512F kernels (Winograd F(4x4, 3x3) for 3x3 stride-1 convolutions).
    Avx512,
    /// The same kernels on AVX2 + FMA, 8 lanes a register: what an AVX-512 processor computes,
    /// bit for bit, on processors without AVX-512.
    Avx2,
    /// No SIMD route of nasr's: every kernel's plain Rust version.
    Portable,
}

impl Route {
    /// Every route, fastest first.
    pub const ALL: [Route; 3] = [Route::Avx512, Route::Avx2, Route::Portable];

    /// The name `NASR_KERNELS` takes for this route.
    pub fn name(self) -> &'static str {
        match self {
            Route::Avx512 => "avx512",
            Route::Avx2 => "avx2",
            Route::Portable => "portable",
        }
    }

    /// The instructions the route needs.
    pub fn instructions(self) -> &'static str {
        match self {
            Route::Avx512 => "AVX-512F, AVX2 and FMA",
            Route::Avx2 => "AVX2 and FMA",
            Route::Portable => "nothing beyond the build target",
        }
    }

    /// Whether this processor can run the route.
    pub fn supported(self) -> bool {
        match self {
            Route::Avx512 => avx512_detected(),
            Route::Avx2 => avx2_detected(),
            Route::Portable => true,
        }
    }

    /// The fastest route this processor supports.
    pub fn best() -> Route {
        Route::ALL
            .into_iter()
            .find(|route| route.supported())
            .unwrap_or(Route::Portable)
    }

    /// The route a value of `NASR_KERNELS` asks for (`None`: the variable is unset).
    pub fn from_setting(value: Option<&str>) -> Result<Route, RouteError> {
        let value = value.map(str::trim).unwrap_or("");
        if value.is_empty() || value == "auto" {
            return Ok(Route::best());
        }
        let route = Route::ALL
            .into_iter()
            .find(|route| route.name() == value)
            .ok_or_else(|| RouteError::Unknown(value.to_string()))?;
        if route.supported() {
            Ok(route)
        } else {
            Err(RouteError::Unsupported(route))
        }
    }

    /// The route `NASR_KERNELS` asks for in this process's environment.
    pub fn from_env() -> Result<Route, RouteError> {
        Route::from_setting(std::env::var(ROUTE_VARIABLE).ok().as_deref())
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `NASR_KERNELS` value that names no route, or one this processor cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The value names no route.
    #[error(
        "{ROUTE_VARIABLE}={0:?} names no kernel route; expected auto, avx512, avx2 or portable"
    )]
    Unknown(String),
    /// The processor lacks the instructions of the route asked for.
    #[error(
        "{ROUTE_VARIABLE}={route} asks for a route this processor cannot run (it needs {needs}); use auto or portable",
        route = .0,
        needs = .0.instructions()
    )]
    Unsupported(Route),
}

/// The route every kernel of this process takes: read from `NASR_KERNELS` once, on first use.
///
/// # Panics
/// If `NASR_KERNELS` is invalid. Programs check it first with [`Route::from_env`] (the `nasr`
/// binary does, and reports the error), so only a library user who sets it wrongly sees this.
pub fn active() -> Route {
    static ACTIVE: OnceLock<Route> = OnceLock::new();
    *ACTIVE.get_or_init(|| Route::from_env().unwrap_or_else(|e| panic!("{e}")))
}

/// Defines `fn $name(args) -> ret` that runs `$body(args)` compiled for the active route: with
/// AVX-512F, AVX2 and FMA enabled on `avx512`, AVX2 and FMA on `avx2`, the build target's
/// instructions on `portable` (and off x86). `$body` must be `#[inline(always)]`, so that each
/// version gets its own copy, which the compiler vectorises with that version's instructions.
///
/// Plain Rust loops compute the same bytes in every version: the compiler forms no fused
/// multiply-add and reorders no float sum unless asked to, so wider registers only do more of
/// the same elementwise work at once.
macro_rules! compiled_per_route {
    ($(#[$doc:meta])* $vis:vis fn $name:ident = $body:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?) => {
        $(#[$doc])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                match $crate::route::active() {
                    // SAFETY: the active route is one this processor supports (`active` refuses
                    // any other), and each version enables only its route's instructions.
                    $crate::route::Route::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::route::Route::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::route::Route::Portable => {}
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use compiled_per_route;

#[cfg(target_arch = "x86_64")]
fn avx512_detected() -> bool {
    // The AVX-512 kernels are compiled with AVX2 and FMA enabled too.
    is_x86_feature_detected!("avx512f") && avx2_detected()
}

#[cfg(not(target_arch = "x86_64"))]
fn avx512_detected() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn avx2_detected() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2_detected() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_name_routes_and_bad_ones_are_refused_by_name() {
        assert_eq!(Route::from_setting(None), Ok(Route::best()));
        assert_eq!(Route::from_setting(Some("auto")), Ok(Route::best()));
        assert_eq!(Route::from_setting(Some("portable")), Ok(Route::Portable));
        let unknown = Route::from_setting(Some("avx9")).unwrap_err();
        assert!(unknown.to_string().contains("\"avx9\""), "{unknown}");
        assert!(unknown.to_string().contains("portable"), "{unknown}");
        for simd in [Route::Avx512, Route::Avx2] {
            match Route::from_setting(Some(simd.name())) {
                Ok(route) => assert!(route.supported() && route == simd),
                Err(e) => {
                    assert!(!simd.supported());
                    assert_eq!(e, RouteError::Unsupported(simd));
                }
            }
        }
    }

    #[test]
    fn the_best_route_is_one_the_processor_supports() {
        assert!(Route::best().supported());
        assert!(active().supported());
    }
}
