//! The final architecture drawn: a NAS-Bench-201 or DARTS cell as a small graph (nodes and
//! labelled edges), MobileNet and Once-for-All layer choices as a strip of boxes. Read from
//! the canonical architecture strings the run records; a string this module cannot read is
//! shown as text instead.

use std::fmt::Write;

use crate::html::escape;
use crate::svg::PALETTE;

/// The drawing of `arch` of the space `space` (`nb201`, `darts`, `mobilenet`, `proxyless`,
/// `ofa`), or `None` where it cannot be read.
pub fn draw(space: &str, arch: &str) -> Option<String> {
    match space {
        "nb201" => nb201_edges(arch).map(|edges| nb201_cell(&edges)),
        "darts" => darts_cells(arch),
        "mobilenet" | "proxyless" => mobilenet_layers(arch).map(|l| strip(&[("layers", l)])),
        "ofa" => ofa_units(arch),
        _ => None,
    }
}

/// A NB201 cell's edges as (from, to, op): `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.
fn nb201_edges(arch: &str) -> Option<Vec<(usize, usize, String)>> {
    let mut edges = Vec::new();
    for (node, part) in arch.split('+').enumerate() {
        for edge in part.split('|').filter(|e| !e.is_empty()) {
            let (op, from) = edge.split_once('~')?;
            edges.push((from.parse().ok()?, node + 1, op.to_string()));
        }
    }
    (edges.len() == 6).then_some(edges)
}

/// The colour of an op, by its family.
fn op_colour(op: &str) -> &'static str {
    match op {
        o if o.contains("conv_3x3") => PALETTE[0],
        o if o.contains("conv_1x1") => PALETTE[1],
        o if o.contains("conv_5x5") => PALETTE[4],
        o if o.contains("pool") => PALETTE[2],
        "skip_connect" => PALETTE[7],
        _ => "#bbb",
    }
}

fn node(out: &mut String, x: f64, y: f64, label: &str) {
    let _ = write!(
        out,
        r##"<circle class="node" cx="{x:.1}" cy="{y:.1}" r="15" fill="#fff" stroke="#333"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
        y + 4.0,
        escape(label)
    );
}

/// A straight edge from `a` to `b` (node centres; data flows left to right), labelled with
/// its op at `at` (0 at `a`, 1 at `b`): NB201's six edges, labelled at a third of their
/// length, keep their labels apart.
fn edge(out: &mut String, a: (f64, f64), b: (f64, f64), at: f64, op: &str) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let length = (dx * dx + dy * dy).sqrt().max(1.0);
    // From circle edge to circle edge.
    let (ux, uy) = (dx / length * 15.0, dy / length * 15.0);
    let dash = if op == "none" {
        r#" stroke-dasharray="3 3""#
    } else {
        ""
    };
    let (lx, ly) = (a.0 + dx * at, a.1 + dy * at);
    let _ = write!(
        out,
        r##"<line class="edge" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2.2"{dash}><title>{}</title></line><text x="{lx:.1}" y="{:.1}" text-anchor="middle" paint-order="stroke" stroke="#fff" stroke-width="3">{}</text>"##,
        a.0 + ux,
        a.1 + uy,
        b.0 - ux,
        b.1 - uy,
        op_colour(op),
        escape(op),
        ly - 3.0,
        escape(op)
    );
}

fn nb201_cell(edges: &[(usize, usize, String)]) -> String {
    // Input left, output right, the two inner nodes above and below the middle.
    let position = |n: usize| match n {
        0 => (50.0, 150.0),
        1 => (230.0, 50.0),
        2 => (410.0, 250.0),
        _ => (590.0, 150.0),
    };
    let mut out = String::from(
        r#"<svg class="cell" viewBox="0 0 640 300" width="640" height="300" role="img" aria-label="NB201 cell">"#,
    );
    for (from, to, op) in edges {
        edge(&mut out, position(*from), position(*to), 0.36, op);
    }
    for n in 0..4 {
        let (x, y) = position(n);
        node(&mut out, x, y, &n.to_string());
    }
    out.push_str("</svg>");
    out
}

/// DARTS genotype: `Genotype(normal=[('op', i), ...], normal_concat=[...], reduce=[...], ...)`.
fn darts_cell_ops(arch: &str, cell: &str) -> Option<Vec<(String, usize)>> {
    let start = arch.find(&format!("{cell}=["))? + cell.len() + 2;
    let end = start + arch[start..].find(']')?;
    let mut ops = Vec::new();
    for pair in arch[start..end].split(')').filter(|p| p.contains('(')) {
        let inner = pair.split_once('(')?.1;
        let (op, input) = inner.split_once(',')?;
        let op = op.trim().trim_matches('\'').to_string();
        ops.push((op, input.trim().parse().ok()?));
    }
    (ops.len() == 8).then_some(ops)
}

fn darts_cells(arch: &str) -> Option<String> {
    let normal = darts_cell_ops(arch, "normal")?;
    let reduce = darts_cell_ops(arch, "reduce")?;
    Some(format!(
        "{}{}",
        darts_cell("normal cell", &normal),
        darts_cell("reduction cell", &reduce)
    ))
}

/// Inputs c_{k-2} and c_{k-1} on the left, nodes 0..3 in a column, c_{k} on the right.
fn darts_cell(name: &str, ops: &[(String, usize)]) -> String {
    let position = |state: usize| -> (f64, f64) {
        match state {
            0 => (50.0, 70.0),
            1 => (50.0, 230.0),
            s => (300.0, 40.0 + 73.0 * (s - 2) as f64),
        }
    };
    let output = (540.0, 150.0);
    let mut out = format!(
        r#"<svg class="cell" viewBox="0 0 600 300" width="600" height="300" role="img" aria-label="{}">"#,
        escape(name)
    );
    let _ = write!(out, r#"<text x="8" y="16">{}</text>"#, escape(name));
    for (index, (op, input)) in ops.iter().enumerate() {
        let target = position(2 + index / 2);
        let source = position(*input);
        if source.0 == target.0 {
            // Node to node in the column: a bow to the right.
            let (mx, my) = (target.0 + 60.0, (source.1 + target.1) / 2.0);
            let _ = write!(
                out,
                r#"<path class="edge" d="M{:.1},{:.1} Q{mx:.1},{my:.1} {:.1},{:.1}" fill="none" stroke="{}" stroke-width="2"><title>{}</title></path><text x="{:.1}" y="{my:.1}">{}</text>"#,
                source.0 + 12.0,
                source.1,
                target.0 + 12.0,
                target.1,
                op_colour(op),
                escape(op),
                mx - 24.0,
                escape(op)
            );
        } else {
            // The two edges into a node are labelled at different points.
            edge(
                &mut out,
                source,
                target,
                0.3 + 0.25 * (index % 2) as f64,
                op,
            );
        }
    }
    for s in 2..6 {
        let p = position(s);
        let _ = write!(
            out,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#ccc"/>"##,
            p.0 + 15.0,
            p.1,
            output.0 - 18.0,
            output.1
        );
    }
    for s in 0..6 {
        let p = position(s);
        let label = match s {
            0 => "c_{k-2}".to_string(),
            1 => "c_{k-1}".to_string(),
            n => (n - 2).to_string(),
        };
        node(&mut out, p.0, p.1, &label);
    }
    node(&mut out, output.0, output.1, "c_{k}");
    out.push_str("</svg>");
    out
}

/// MobileNet layer choices: `k3_e3-k5_e6-skip-...`.
fn mobilenet_layers(arch: &str) -> Option<Vec<String>> {
    let layers: Vec<String> = arch.split('-').map(str::to_string).collect();
    let valid = |l: &str| l == "skip" || (l.starts_with('k') && l.contains("_e"));
    layers.iter().all(|l| valid(l)).then_some(layers)
}

/// OFA: `r20|k3_e4-k5_e6|...`: the resolution, then one group of layers per unit.
fn ofa_units(arch: &str) -> Option<String> {
    let mut parts = arch.split('|');
    let resolution = parts.next()?.strip_prefix('r')?.parse::<usize>().ok()?;
    let units: Vec<(String, Vec<String>)> = parts
        .enumerate()
        .map(|(i, unit)| Some((format!("unit {}", i + 1), mobilenet_layers(unit)?)))
        .collect::<Option<_>>()?;
    let rows: Vec<(&str, Vec<String>)> =
        units.iter().map(|(n, l)| (n.as_str(), l.clone())).collect();
    Some(format!(
        "<p>input resolution {resolution}x{resolution}</p>{}",
        strip(&rows)
    ))
}

/// Rows of layer boxes: the kernel sets the colour, the expansion the height.
fn strip(rows: &[(&str, Vec<String>)]) -> String {
    let longest = rows.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
    let width = 90.0 + 58.0 * longest as f64;
    let height = 20.0 + 52.0 * rows.len() as f64;
    let mut out = format!(
        r#"<svg class="cell" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="layer choices">"#
    );
    for (row, (name, layers)) in rows.iter().enumerate() {
        let y = 14.0 + 52.0 * row as f64;
        let _ = write!(
            out,
            r#"<text x="4" y="{:.1}">{}</text>"#,
            y + 24.0,
            escape(name)
        );
        for (i, layer) in layers.iter().enumerate() {
            let (colour, fill) = layer_look(layer);
            let x = 90.0 + 58.0 * i as f64;
            let _ = write!(
                out,
                r#"<rect class="mark" x="{x:.1}" y="{:.1}" width="52" height="{fill:.1}" fill="{colour}" rx="3"><title>{}</title></rect><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                y + 40.0 - fill,
                escape(layer),
                x + 26.0,
                y + 50.0,
                escape(layer)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// A layer's colour (by kernel) and box height (by expansion).
fn layer_look(layer: &str) -> (&'static str, f64) {
    if layer == "skip" {
        return ("#ccc", 6.0);
    }
    let (kernel, expansion) = layer
        .trim_start_matches('k')
        .split_once("_e")
        .unwrap_or(("3", "3"));
    let colour = match kernel {
        "3" => PALETTE[0],
        "5" => PALETTE[1],
        "7" => PALETTE[2],
        _ => PALETTE[4],
    };
    let expansion: f64 = expansion.parse().unwrap_or(3.0);
    (colour, (6.0 * expansion).min(40.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_space_is_drawn() {
        let nb201 = "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|";
        let cell = draw("nb201", nb201).unwrap();
        assert_eq!(cell.matches(r#"class="edge""#).count(), 6);
        assert_eq!(cell.matches(r#"class="node""#).count(), 4);
        let darts = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";
        assert_eq!(
            draw("darts", darts)
                .unwrap()
                .matches(r#"class="edge""#)
                .count(),
            16
        );
        let mobilenet = draw("mobilenet", "k3_e3-k5_e6-skip").unwrap();
        assert_eq!(mobilenet.matches(r#"class="mark""#).count(), 3);
        let ofa = draw("ofa", "r20|k3_e4-k5_e6|k7_e3").unwrap();
        assert_eq!(ofa.matches(r#"class="mark""#).count(), 3);
        assert!(draw("nb201", "|conv~0|").is_none());
    }
}
