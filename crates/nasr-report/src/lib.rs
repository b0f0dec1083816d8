//! nasr's report: one self-contained HTML page of a run folder (or of a folder of runs),
//! read from the records the run wrote. It draws what a method's users look at (best-so-far
//! curves, architecture weights, Pareto fronts, rankings, robustness), the training curves,
//! the final architecture, timings, the resolved config and links to the artifacts. It can be
//! regenerated while a run is in progress. No burn: a report builds and renders in a moment.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod arch;
mod error;
pub mod html;
pub mod records;
mod sections;
pub mod svg;

use std::path::{Path, PathBuf};

pub use error::ReportError;
pub use records::{RunFolder, RunKind};

/// The report page of the run folder `folder`.
pub fn run_report(folder: &Path) -> Result<String, ReportError> {
    let run = RunFolder::open(folder)?;
    let sections = sections::sections(&run)?;
    let name = folder.file_name().map_or_else(
        || folder.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    Ok(html::page(
        &format!("nasr: {name}"),
        &format!("{} — {}", run.kind.title(), folder.display()),
        &sections,
    ))
}

/// Writes the report of `folder`: a run folder's page at `out` (default
/// `folder/report.html`); for a folder of run folders, each run's page in its folder and an
/// index page at `out` (default `folder/report.html`) linking them. Returns the pages written.
pub fn write_report(folder: &Path, out: Option<&Path>) -> Result<Vec<PathBuf>, ReportError> {
    let target = out.map_or_else(|| folder.join("report.html"), Path::to_path_buf);
    match run_report(folder) {
        Ok(page) => {
            write(&target, &page)?;
            Ok(vec![target])
        }
        Err(ReportError::NotARun { .. }) => {
            let runs = child_runs(folder)?;
            if runs.is_empty() {
                return Err(ReportError::NotARun {
                    path: folder.to_path_buf(),
                });
            }
            let mut written = Vec::new();
            let mut rows = Vec::new();
            for run in &runs {
                let page_path = run.path.join("report.html");
                write(&page_path, &run_report(&run.path)?)?;
                rows.push(index_row(folder, run, &page_path));
                written.push(page_path);
            }
            write(&target, &index_page(folder, &rows))?;
            written.push(target);
            Ok(written)
        }
        Err(other) => Err(other),
    }
}

/// The run folders directly inside `folder`, by name.
fn child_runs(folder: &Path) -> Result<Vec<RunFolder>, ReportError> {
    let entries = std::fs::read_dir(folder).map_err(|e| ReportError::io(folder, e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    paths.sort();
    let mut runs = Vec::new();
    for path in paths {
        match RunFolder::open(&path) {
            Ok(run) => runs.push(run),
            Err(ReportError::NotARun { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(runs)
}

fn index_row(folder: &Path, run: &RunFolder, page: &Path) -> String {
    let link = page
        .strip_prefix(folder)
        .unwrap_or(page)
        .display()
        .to_string();
    let name = run
        .path
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into());
    format!(
        r#"<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>"#,
        html::escape(&link),
        html::escape(&name),
        html::escape(run.kind.title()),
        html::escape(&run.space().unwrap_or_default())
    )
}

fn index_page(folder: &Path, rows: &[String]) -> String {
    let table = format!(
        "<table><thead><tr><th>run</th><th>method</th><th>space</th></tr></thead><tbody>{}\
         </tbody></table>",
        rows.concat()
    );
    let section = html::Section::new("runs", "Runs")
        .text(&format!(
            "{} run folders, each with its own report:",
            rows.len()
        ))
        .html(&table);
    html::page(
        &format!("nasr: {}", folder.display()),
        "a folder of runs",
        &[section],
    )
}

/// Writes `page` to `path` through a temporary file, so that a reader never sees half a page
/// (the report of a run in progress is rewritten while a browser may be reading it).
fn write(path: &Path, page: &str) -> Result<(), ReportError> {
    let partial = path.with_extension("html.partial");
    std::fs::write(&partial, page).map_err(|e| ReportError::io(&partial, e))?;
    std::fs::rename(&partial, path).map_err(|e| ReportError::io(path, e))
}
