//! `nasr search -c FILE.toml`: any method from an experiment file, flags over the file; invalid
//! space x strategy pairs and flags of the other space refused with the valid choices named.

mod common;

use std::path::Path;
use std::process::Output;

use common::{nasr, scratch};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn search_with(config: &Path, out: &Path, flags: &[&str]) -> Output {
    nasr()
        .arg("search")
        .arg("-c")
        .arg(config)
        .args(flags)
        .args(["--no-progress", "--out"])
        .arg(out)
        .output()
        .unwrap()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn an_experiment_file_runs_a_table_search_and_a_flag_overrides_its_value() {
    let dir = scratch("exp-table");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("exp.toml");
    std::fs::write(
        &config,
        "method = \"table\"\nstrategy = \"rs\"\nqueries = 30\nseed = 2\n",
    )
    .unwrap();
    let output = search_with(&config, &dir.join("file"), &["--queries", "12"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let trials = String::from_utf8(read(&dir.join("file/trials.jsonl"))).unwrap();
    assert_eq!(
        trials.lines().count(),
        12,
        "--queries 12 overrides the file's 30"
    );

    // The file and the flag make the same search as the flags alone.
    let output = nasr()
        .args([
            "search",
            "--strategy",
            "rs",
            "--queries",
            "12",
            "--seed",
            "2",
        ])
        .args(["--no-progress", "--out"])
        .arg(dir.join("flags"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    for file in ["trials.jsonl", "best.json"] {
        assert!(
            read(&dir.join("file").join(file)) == read(&dir.join("flags").join(file)),
            "{file} differs between -c and flags"
        );
    }
}

#[test]
fn an_rsws_experiment_runs_from_a_file_and_from_its_run_folders_config() {
    let dir = scratch("exp-rsws");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("rsws.toml");
    std::fs::write(
        &config,
        "method = \"rsws\"\nseed = 1\ncandidates = 5\n\
         [data]\nname = \"digits\"\ntrain_subset = 400\n\
         [space.nb201]\nchannels = 4\ncells = 1\n\
         [train]\nepochs = 1\nbatch_size = 32\n",
    )
    .unwrap();
    let first = dir.join("first");
    let output = search_with(&config, &first, &["--candidates", "3"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let ranking: Vec<serde_json::Value> =
        serde_json::from_slice(&read(&first.join("ranking.json"))).unwrap();
    assert_eq!(ranking.len(), 3, "--candidates 3 overrides the file's 5");
    let written = String::from_utf8(read(&first.join("config.toml"))).unwrap();
    assert!(written.contains("candidates = 3"), "{written}");

    // The run folder's config.toml, read with the strategy that wrote it, reruns the search.
    let again = dir.join("again");
    let output = search_with(&first.join("config.toml"), &again, &["--strategy", "rsws"]);
    assert!(output.status.success(), "{}", stderr(&output));
    for file in ["config.toml", "metrics.json", "best.json", "ranking.json"] {
        assert!(
            read(&first.join(file)) == read(&again.join(file)),
            "{file} differs when rerun from the run folder's config.toml"
        );
    }
    // Without the strategy, a file with no method is refused, naming the methods.
    let output = search_with(&first.join("config.toml"), &dir.join("none"), &[]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("method is missing: expected one of table, rsws"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_invalid_space_and_strategy_pair_in_a_file_is_refused_naming_the_valid_strategies() {
    let dir = scratch("exp-pair");
    let empty = dir.join("empty-data");
    std::fs::create_dir_all(&empty).unwrap();
    for (text, expected) in [
        (
            "method = \"darts\"\n[space.mobilenet]\n",
            "space mobilenet searches with strategy fairnas, spos, proxyless or dna; got darts",
        ),
        (
            "method = \"asha\"\n[run.space.darts]\n",
            "space darts searches with strategy darts or ftt; got asha",
        ),
        (
            "method = \"rsws\"\n[space.darts]\n",
            "space darts searches with strategy darts or ftt; got rsws",
        ),
        (
            "method = \"fairnas\"\n[space.nb201]\n",
            "space nb201 searches with strategy rs, rea, reinforce, nsga2, rsws, asha, hyperband, \
             darts or ftt; got fairnas",
        ),
    ] {
        let config = dir.join("bad.toml");
        std::fs::write(&config, text).unwrap();
        let out = dir.join("run");
        // An empty data folder makes a run that the check let through fail fast.
        let output = search_with(&config, &out, &["--data-dir", empty.to_str().unwrap()]);
        assert!(!output.status.success(), "{text} ran");
        let message = stderr(&output);
        assert!(
            message.contains(expected) && message.contains("bad.toml"),
            "{text}: {message}"
        );
        assert!(!message.contains("panicked"), "{message}");
        assert!(
            !out.exists(),
            "a refused experiment wrote {}",
            out.display()
        );
    }
    // The same check refuses a --space flag that the file's method does not search.
    let config = dir.join("table.toml");
    std::fs::write(&config, "method = \"table\"\nstrategy = \"rea\"\n").unwrap();
    let output = search_with(
        &config,
        &dir.join("run"),
        &[
            "--space",
            "mobilenet",
            "--data-dir",
            empty.to_str().unwrap(),
        ],
    );
    assert!(
        stderr(&output).contains(
            "space mobilenet searches with strategy fairnas, spos, proxyless or dna; got rea"
        ),
        "{}",
        stderr(&output)
    );
}

#[test]
fn cells_with_the_darts_space_is_refused_naming_layers() {
    let out = scratch("exp-cells");
    // An empty data folder makes a run that the check let through fail fast.
    let empty = scratch("exp-cells-data");
    std::fs::create_dir_all(&empty).unwrap();
    let search = nasr()
        .args(["search", "--space", "darts", "--strategy", "darts"])
        .args(["--cells", "4", "--data-dir"])
        .arg(&empty)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let genotype = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";
    let train = nasr()
        .args(["train", "--space", "darts", "--arch", genotype])
        .args(["--data", "sklearn-digits", "--cells", "4", "--data-dir"])
        .arg(&empty)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    for output in [search, train] {
        assert!(!output.status.success());
        assert!(
            stderr(&output).contains(
                "--cells is NB201's cells per stage; the darts space's number of cells is --layers"
            ),
            "{}",
            stderr(&output)
        );
    }
    assert!(!out.exists());
}

#[test]
fn search_help_groups_flags_by_method_and_refuses_another_methods_flag() {
    let output = nasr().args(["search", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for heading in [
        "Table search (rs, rea, reinforce, nsga2):",
        "Training on data",
        "ASHA and Hyperband:",
        "DARTS:",
        "--config",
    ] {
        assert!(
            help.contains(heading),
            "search --help lacks {heading}:\n{help}"
        );
    }
    let output = nasr()
        .args(["search", "--strategy", "rea", "--candidates", "5", "--out"])
        .arg(scratch("exp-other-flag"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--candidates applies to rsws, not to the table strategies"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_field_of_the_wrong_type_in_a_file_is_refused_naming_its_key_path() {
    let dir = scratch("exp-types");
    let empty = dir.join("empty-data");
    std::fs::create_dir_all(&empty).unwrap();
    for (text, expected) in [
        (
            "method = \"rsws\"\n[train]\nepochs = \"two\"\n",
            "train.epochs",
        ),
        // A method whose tag fixes a field (asha fixes `strategy`) reads its config the same way.
        (
            "method = \"asha\"\n[run.train]\nepochs = \"two\"\n",
            "run.train.epochs",
        ),
        (
            "method = \"fairnas\"\nsampling = \"uniform\"\n",
            "method fairnas has sampling = \"strict_fair\"",
        ),
    ] {
        let config = dir.join("typed.toml");
        std::fs::write(&config, text).unwrap();
        let output = search_with(
            &config,
            &dir.join("run"),
            &["--data-dir", empty.to_str().unwrap()],
        );
        assert!(!output.status.success(), "{text} ran");
        let message = stderr(&output);
        assert!(
            message.contains(expected) && message.contains("typed.toml"),
            "{text}: {message}"
        );
    }
}

#[test]
fn a_batch_size_flag_leaves_a_files_evaluation_batch_size_alone() {
    let dir = scratch("exp-eval-batch");
    let empty = dir.join("empty-data");
    std::fs::create_dir_all(&empty).unwrap();
    let config = dir.join("fair.toml");
    std::fs::write(
        &config,
        "method = \"fairnas\"\n[train]\neval_batch_size = 100\n",
    )
    .unwrap();
    let out = dir.join("run");
    // The run writes its config.toml, then fails on the empty data folder.
    let output = search_with(
        &config,
        &out,
        &["--batch-size", "32", "--data-dir", empty.to_str().unwrap()],
    );
    assert!(!output.status.success());
    let written = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(written.contains("batch_size = 32"), "{written}");
    assert!(written.contains("eval_batch_size = 100"), "{written}");
}

#[test]
fn a_config_of_format_1_is_refused_naming_its_format_and_the_new_form() {
    let dir = scratch("exp-format-1");
    let empty = dir.join("empty-data");
    std::fs::create_dir_all(&empty).unwrap();
    let arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";
    let old = format!(
        "seed = 0\nspace = \"nb201\"\narch = \"{arch}\"\n[network]\nchannels = 4\ncells = 1\n"
    );
    let expected = "config format 1";
    let new_form = "[space.nb201] with channels and cells";

    // As an experiment file and as a `nasr train -c` file.
    let file = dir.join("old.toml");
    std::fs::write(&file, format!("method = \"train\"\n{old}")).unwrap();
    let output = search_with(&file, &dir.join("run"), &[]);
    let message = stderr(&output);
    assert!(!output.status.success());
    assert!(
        message.contains(expected) && message.contains(new_form),
        "{message}"
    );
    std::fs::write(&file, &old).unwrap();
    let output = nasr()
        .args(["train", "-c"])
        .arg(&file)
        .arg("--out")
        .arg(dir.join("run"))
        .output()
        .unwrap();
    let message = stderr(&output);
    assert!(!output.status.success());
    assert!(
        message.contains(expected) && message.contains("old.toml"),
        "{message}"
    );

    // A run folder written by an older nasr is refused as such, not as another run's.
    let folder = dir.join("old-run");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("config.toml"), &old).unwrap();
    let output = nasr()
        .args([
            "train",
            "--arch",
            arch,
            "--data",
            "sklearn-digits",
            "--data-dir",
        ])
        .arg(&empty)
        .arg("--out")
        .arg(&folder)
        .output()
        .unwrap();
    let message = stderr(&output);
    assert!(!output.status.success());
    assert!(
        message.contains("was written by an older nasr") && message.contains(expected),
        "{message}"
    );
}

#[test]
fn a_size_flag_of_another_space_is_refused() {
    let dir = scratch("exp-mobilenet-channels");
    let output = nasr()
        .args([
            "train",
            "--space",
            "mobilenet",
            "--arch",
            "k3_e3-k5_e6-k7_e3-k3_e6-k5_e3-k7_e6",
        ])
        .args(["--channels", "4", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let message = stderr(&output);
    assert!(!output.status.success());
    assert!(message.contains("[space.mobilenet]"), "{message}");
    let output = nasr()
        .args([
            "train",
            "--space",
            "nb201",
            "--arch",
            "x",
            "--drop-path",
            "0.2",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let message = stderr(&output);
    assert!(!output.status.success());
    assert!(
        message.contains("--drop-path applies to the darts space"),
        "{message}"
    );
}

#[test]
fn ftt_flags_set_its_config_and_the_fault_flags_are_refused_elsewhere() {
    let out = scratch("exp-ftt");
    let _ = std::fs::remove_dir_all(&out);
    let output = nasr()
        .args([
            "search",
            "--strategy",
            "ftt",
            "--data",
            "sklearn-digits",
            "--epochs",
            "1",
        ])
        .args([
            "--queries",
            "3",
            "--ftt-strategy",
            "rea",
            "--fault",
            "bitflip",
        ])
        .args([
            "--fault-rate",
            "0.01",
            "--fault-gamma",
            "0.3",
            "--reward-alpha",
            "0.4",
        ])
        .args([
            "--fault-draws",
            "1",
            "--retrain-epochs",
            "1",
            "--retrain-channels",
            "6",
        ])
        .args(["--retrain-gamma", "0.6", "--no-progress", "--out"])
        .arg(&out)
        .env("NASR_DATA", nasr_data::test_data_dir(&["sklearn-digits"]))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("retrained fault-tolerantly"), "{printed}");
    let text = String::from_utf8(read(&out.join("config.toml"))).unwrap();
    let config: nasr_methods::ftt::FttConfig = toml::from_str(&text).unwrap();
    assert_eq!(config.strategy, nasr_search::registry::StrategyName::Rea);
    assert_eq!(
        (config.trials, config.fault_draws, config.alpha()),
        (3, 1, 0.4)
    );
    assert_eq!(
        config.fault.model,
        nasr_nn::faults::FaultFamily::BitFlip { per_mac: false }.at(0.01)
    );
    assert_eq!(config.fault.gamma, 0.3);
    let retrain = config.retrain.unwrap();
    assert_eq!((retrain.train.epochs, retrain.gamma), (1, 0.6));
    assert_eq!(
        retrain.space,
        Some(nasr_methods::space::SpaceConfig::Nb201(
            nasr_methods::space::NetworkSize {
                channels: 6,
                cells: 1
            }
        ))
    );
    let output = nasr()
        .args(["search", "--strategy", "rea", "--fault", "mibb", "--out"])
        .arg(scratch("exp-fault-flag"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--fault applies to ftt, not to the table strategies"),
        "{}",
        stderr(&output)
    );
}
