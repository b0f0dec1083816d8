//! DNA on real data (scikit-learn's 8x8 digits, the default MobileNet space): a teacher
//! trained by `train_run`, block supernets distilled from it, every candidate scored, an exact
//! pick within a multiply-add budget retrained; a rerun resumes to the same result; teachers
//! that do not fit the student are refused by name.

use std::path::{Path, PathBuf};

use nasr_data::DatasetName;
use nasr_methods::dna::teacher::{Teacher, check_boundaries};
use nasr_methods::dna::{DnaConfig, dna_run};
use nasr_methods::run::{DataConfig, RunOptions, TrainRunConfig, train_run};
use nasr_methods::space::SpaceConfig;
use nasr_nn::train::TrainConfig;
use nasr_space::mobilenet::{MobileNetConfig, Stage};
use nasr_space::{MobileNetSpace, Space};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nasr-dna-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn digits() -> DataConfig {
    DataConfig {
        name: DatasetName::Digits,
        validation_fraction: 0.3,
        train_subset: None,
        test_subset: None,
    }
}

/// The student's stage boundaries, 3 layers per stage of k5 at expansion 8.
fn teacher_space() -> MobileNetConfig {
    let student = MobileNetConfig::default();
    MobileNetConfig {
        stages: student
            .stages
            .iter()
            .map(|s| Stage { layers: 3, ..*s })
            .collect(),
        kernels: vec![5],
        expansions: vec![8],
        ..student
    }
}

fn teacher_run(space: MobileNetConfig, arch: &str, epochs: usize) -> TrainRunConfig {
    TrainRunConfig {
        seed: 1,
        space: SpaceConfig::Mobilenet(space),
        arch: arch.into(),
        data: digits(),
        train: TrainConfig {
            epochs,
            lr: 0.05,
            eval_batch_size: 64,
            ..TrainConfig::default()
        },
        init_from: None,
        fault: None,
    }
}

fn write_config(folder: &Path, config: &TrainRunConfig) {
    std::fs::create_dir_all(folder).unwrap();
    std::fs::write(folder.join("config.toml"), toml::to_string(config).unwrap()).unwrap();
}

#[test]
fn dna_distils_scores_selects_within_budget_retrains_and_resumes() {
    let data = nasr_data::test_data_dir(&["sklearn-digits"]);
    let options = RunOptions::default();
    let teacher = scratch("teacher");
    let arch = ["k5_e8"; 9].join("-");
    let metrics = train_run(
        &teacher_run(teacher_space(), &arch, 6),
        &data,
        &teacher,
        &options,
    )
    .unwrap();
    assert!(
        metrics.test_accuracy > 0.8,
        "teacher {}",
        metrics.test_accuracy
    );

    let student = MobileNetSpace::new(MobileNetConfig {
        input_size: 8,
        ..MobileNetConfig::default()
    })
    .unwrap();
    let largest = student.cost(&nasr_space::Arch::new(vec![5; 6])).flops;
    let mut config = DnaConfig {
        seed: 2,
        data: digits(),
        teacher: teacher.clone(),
        max_flops: Some(largest / 2),
        retrain: TrainConfig {
            epochs: 3,
            lr: 0.05,
            eval_batch_size: 64,
            ..TrainConfig::default()
        },
        ..DnaConfig::default()
    };
    config.blocks.epochs = 3;
    config.blocks.batch_size = 32;
    config.scoring.valid_batches = 4;
    let out = scratch("search");
    let result = dna_run(&config, &data, &out, &options).unwrap();

    // Every block learns towards the teacher: its loss falls epoch after epoch.
    for (block, losses) in result.block_losses.iter().enumerate() {
        assert!(
            losses.windows(2).all(|w| w[1] < w[0]),
            "block {block}: {losses:?}"
        );
    }
    // Every candidate of every block is scored, best first.
    for block in 0..3 {
        let table: Vec<serde_json::Value> = serde_json::from_str(
            &std::fs::read_to_string(out.join(format!("scores/block{block}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(table.len(), 36);
        let scores: Vec<f64> = table.iter().map(|c| c["score"].as_f64().unwrap()).collect();
        assert!(scores.windows(2).all(|w| w[0] <= w[1]));
        assert!(
            scores[0] < scores[35],
            "block {block} ranks nothing: {scores:?}"
        );
    }
    let arch = student.parse(&result.arch).unwrap();
    assert!(result.flops <= largest / 2 && result.cost == result.flops as f64);
    assert_eq!(student.cost(&arch).flops, result.flops);
    assert!((result.score - result.block_scores.iter().sum::<f64>()).abs() < 1e-12);
    assert!(
        result.test_accuracy > 0.5,
        "retrained pick {}",
        result.test_accuracy
    );

    // A rerun finds everything done: the same result.
    assert_eq!(dna_run(&config, &data, &out, &options).unwrap(), result);

    // DNA as a ranker beside the supernets: the same M architectures, one ranking per seed.
    let ranking = sampling_rank_with_dna(&teacher, &data, &options);
    assert_eq!(ranking.dna.len(), 2);
    for dna in &ranking.dna {
        assert_eq!(dna.summed_scores.len(), 4);
        assert!(dna.summed_scores.iter().all(|s| s.is_finite() && *s > 0.0));
        assert!(dna.vs_standalone.kendall_tau.abs() <= 1.0);
    }
    assert_eq!(ranking.summary.len(), 1);

    // A budget no architecture meets is refused before any training.
    let tight = DnaConfig {
        max_flops: Some(1000),
        ..config.clone()
    };
    let err = dna_run(&tight, &data, &scratch("tight"), &options)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is met by no architecture: the cheapest costs"),
        "{err}"
    );
}

#[test]
fn teachers_that_do_not_fit_the_student_are_refused_by_name() {
    let student = MobileNetSpace::new(MobileNetConfig::default()).unwrap();
    let mut wider = teacher_space();
    wider.stages[1].channels = 24;
    let err = check_boundaries(&MobileNetSpace::new(wider.clone()).unwrap(), &student)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("block 1's output are 24x14x14; the student's are 16x14x14"),
        "{err}"
    );
    let device = nasr_nn::Compute::Cpu.eval_device();
    let folder = scratch("wide-teacher");
    write_config(&folder, &teacher_run(wider, &["k5_e8"; 9].join("-"), 1));
    let err = Teacher::load(&folder, &student, &device)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("block 1's output"), "{err}");
    // A candidate of the student space is no teacher.
    let folder = scratch("candidate-teacher");
    write_config(
        &folder,
        &teacher_run(
            MobileNetConfig::default(),
            "k3_e3-k5_e6-k7_e3-k3_e6-k5_e3-k7_e6",
            1,
        ),
    );
    let err = Teacher::load(&folder, &student, &device)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("is itself a candidate of the student space"),
        "{err}"
    );
}

fn sampling_rank_with_dna(
    teacher: &Path,
    data: &Path,
    options: &RunOptions,
) -> nasr_methods::sampling_rank::SamplingRankResult {
    use nasr_methods::fairnas::FairNasConfig;
    use nasr_methods::sampling_rank::{DnaRanker, RankMethod, SamplingRankConfig, sampling_rank};
    let train = TrainConfig {
        epochs: 1,
        batch_size: 32,
        eval_batch_size: 64,
        ..TrainConfig::default()
    };
    let mut ranker = DnaRanker {
        teacher: teacher.to_path_buf(),
        ..DnaRanker::default()
    };
    ranker.blocks.epochs = 1;
    ranker.scoring.valid_batches = 2;
    let config = SamplingRankConfig {
        seeds: vec![0, 1],
        archs: 4,
        supernet: FairNasConfig {
            data: digits(),
            train: train.clone(),
            ..FairNasConfig::default()
        },
        standalone: train,
        methods: vec![RankMethod::Dna],
        dna: Some(ranker),
    };
    sampling_rank(&config, data, &scratch("rank"), options).unwrap()
}
