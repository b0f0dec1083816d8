//! The shipped NAS-Bench-201 order agrees with the benchmark's own table, row by row.

use std::path::PathBuf;

use nasr_space::{Nb201Space, Space};

fn data_dir() -> PathBuf {
    nasr_data::test_data_dir(&["nas-bench-201"])
}

#[test]
fn row_i_of_the_accuracy_table_is_index_i() {
    let path = data_dir().join("nas-bench-201/nats_bench_tss_test_acc_200ep.csv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let space = Nb201Space::new();
    let mut rows = 0;
    for (index, line) in text.lines().skip(1).enumerate() {
        let arch_text = line.split(',').nth(3).expect("four columns");
        let arch = space.parse(arch_text).unwrap();
        assert_eq!(space.format(&arch), arch_text);
        assert_eq!(space.index_of(&arch).unwrap(), index, "{arch_text}");
        assert_eq!(space.arch_at(index).unwrap(), arch);
        rows += 1;
    }
    assert_eq!(rows, 15_625);
}
