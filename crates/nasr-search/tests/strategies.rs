//! Each strategy does what its paper says on the NAS-Bench-201 table and on a synthetic
//! landscape.

use std::sync::Arc;

use nasr_search::bench::{BenchConfig, run_nb201_bench};
use nasr_search::evolution::RegularizedEvolution;
use nasr_search::nb201_table::{Nb201Dataset, Nb201Evaluator, Nb201Table};
use nasr_search::nsga2::{Nsga2, Objective, dominates, oriented, pareto_front};
use nasr_search::registry::StrategySettings;
use nasr_search::reinforce::Reinforce;
use nasr_search::store::drive;
use nasr_search::{Goal, Search, Strategy};
use nasr_space::{Nb201Space, Space};

fn table() -> Nb201Table {
    let dir = nasr_data::test_data_dir(&["nas-bench-201"]);
    Nb201Table::load(&dir).unwrap()
}

fn space() -> Arc<dyn Space + Send + Sync> {
    Arc::new(Nb201Space::new())
}

#[test]
fn rea_and_reinforce_beat_random_search_by_more_than_two_standard_errors() {
    let table = table();
    let run = |strategy: &str| {
        let config = BenchConfig {
            strategy: strategy.into(),
            queries: 100,
            runs: 500,
            seed: 0,
            dataset: Nb201Dataset::Cifar10,
            latency_budget: None,
            settings: StrategySettings::default(),
        };
        run_nb201_bench(&table, &config).unwrap().mean_std()
    };
    let (rs, rs_std) = run("rs");
    for strategy in ["rea", "reinforce"] {
        let (mean, std) = run(strategy);
        let standard_error = (rs_std.powi(2) / 500.0 + std.powi(2) / 500.0).sqrt();
        assert!(
            mean - rs > 2.0 * standard_error,
            "{strategy} {mean} vs rs {rs} (se {standard_error})"
        );
    }
}

#[test]
fn reinforce_moves_probability_toward_the_rewarded_op() {
    let table = table();
    let policy = Reinforce::new(0.05, 0.9).unwrap();
    let mut search = Search::new(space(), Goal::maximize("accuracy"), policy, 1);
    let mut evaluator = Nb201Evaluator::new(&table, Nb201Dataset::Cifar10, None);
    drive(&mut search, &mut evaluator, None, 300, &mut |_| {}).unwrap();
    let probabilities = search.policy().probabilities();
    // On NAS-Bench-201 the best cells are mostly 3x3 convs: the policy, uniform (0.2) at the
    // start, moves mass onto nor_conv_3x3 (op 3) on average over the edges ...
    let mean_conv3 = probabilities.iter().map(|p| p[3]).sum::<f64>() / probabilities.len() as f64;
    assert!(mean_conv3 > 0.35, "{probabilities:?}");
    // ... and what it samples gets better.
    let accuracy = |range: std::ops::Range<usize>| {
        let trials = &search.book().trials()[range];
        trials.iter().map(|t| t.metrics["accuracy"]).sum::<f64>() / trials.len() as f64
    };
    assert!(
        accuracy(200..300) > accuracy(0..100) + 1.0,
        "{} vs {}",
        accuracy(200..300),
        accuracy(0..100)
    );
}

#[test]
fn evolution_keeps_a_population_of_the_newest_trials() {
    let table = table();
    let policy = RegularizedEvolution::new(10, 3).unwrap();
    let mut search = Search::new(space(), Goal::maximize("accuracy"), policy, 2);
    let mut evaluator = Nb201Evaluator::new(&table, Nb201Dataset::Cifar10, None);
    drive(&mut search, &mut evaluator, None, 50, &mut |_| {}).unwrap();
    let state = search.state();
    let population: Vec<u64> =
        serde_json::from_value(state["policy"]["population"].clone()).unwrap();
    assert_eq!(population, (40..50).collect::<Vec<u64>>());
}

#[test]
fn nsga2_returns_a_front_of_mutually_non_dominated_architectures() {
    let table = table();
    let device = table.device("pixel3").unwrap();
    let objectives = vec![
        Objective::maximize("accuracy"),
        Objective::minimize("latency_ms"),
    ];
    let policy = Nsga2::new(objectives.clone(), 20).unwrap();
    let mut search = Search::new(space(), Goal::maximize("accuracy"), policy, 3);
    let mut evaluator = Nb201Evaluator::new(&table, Nb201Dataset::Cifar10, Some(device));
    drive(&mut search, &mut evaluator, None, 300, &mut |_| {}).unwrap();
    let front = pareto_front(search.book(), &objectives);
    assert!(front.len() >= 5, "front of {}", front.len());
    let unique: std::collections::HashSet<_> = front.iter().map(|r| &r.arch).collect();
    assert_eq!(
        unique.len(),
        front.len(),
        "an architecture appears twice on the front"
    );
    let points: Vec<Vec<f64>> = front
        .iter()
        .map(|r| oriented(&objectives, &r.metrics).unwrap())
        .collect();
    for a in &points {
        assert!(!points.iter().any(|b| dominates(b, a)));
    }
    // Every evaluated trial is dominated by, or equal to, some front member.
    for record in search.book().trials() {
        let point = oriented(&objectives, &record.metrics).unwrap();
        assert!(points.iter().any(|f| dominates(f, &point) || f == &point));
    }
}

#[test]
fn latency_constrained_search_only_returns_feasible_architectures() {
    let table = table();
    let device = table.device("pixel3").unwrap();
    let (_, optimum) = table
        .optimum(Nb201Dataset::Cifar10, Some((device, 8.0)))
        .unwrap();
    let config = BenchConfig {
        strategy: "rea".into(),
        queries: 100,
        runs: 20,
        seed: 0,
        dataset: Nb201Dataset::Cifar10,
        latency_budget: Some((device, 8.0)),
        settings: StrategySettings::default(),
    };
    let result = run_nb201_bench(&table, &config).unwrap();
    assert!(result.found().iter().all(|&a| a <= optimum));
    assert!(optimum < 94.37, "the budget must bind, optimum {optimum}");
}
