//! The run's plots, from its results: which lines go in which chart.

use std::path::Path;

use anyhow::Result;
use cnmf_engine::Algorithm;

use crate::calibrate::Calibration;
use crate::plots::{draw, Panel, Series};
use crate::protocol::Settings;
use crate::records::{MethodRecord, RepRecord};
use crate::report::PlotIndex;
use crate::summary::{LambdaSummary, Summary};
use crate::timing::TimeCurve;

/// The palette index of a method (engine algorithms in table order, then the rest).
fn color_of(method: &str) -> usize {
    Algorithm::ALL
        .iter()
        .position(|a| a.name() == method)
        .unwrap_or(Algorithm::ALL.len())
}

fn iter_series(method: &str, values: &[f64]) -> Series {
    Series {
        name: method.to_string(),
        points: values
            .iter()
            .enumerate()
            .skip(1)
            .map(|(t, &v)| (t as f64, v))
            .collect(),
        dashed: false,
        color: color_of(method),
    }
}

/// Draws every plot the results allow into `dir` (the report's `plots/`); returns their paths
/// relative to the report.
pub fn draw_all(
    dir: &Path,
    settings: &Settings,
    cal: &Calibration,
    summary: &Summary,
    tta: &[TimeCurve],
    reps: &[RepRecord],
) -> Result<PlotIndex> {
    // Under a wall-clock budget the iteration count is only a cap: no marker.
    let budget = settings.time_budget.is_none().then(|| {
        (
            settings.iters as f64,
            format!("budget ({} it.)", settings.iters),
        )
    });
    Ok(PlotIndex {
        calibration: calibration(dir, cal, &budget)?,
        convergence: convergence(dir, tta, &budget)?,
        time_to_accuracy: time_to_accuracy(dir, tta)?,
        attack_size: attack_size(dir, summary)?,
        lambda: lambda_sweep(dir, settings, summary, reps)?,
    })
}

/// Draws `panels` into `dir/file`; returns the path relative to the report.
fn save(dir: &Path, file: &str, panels: &[Panel], cols: usize) -> Result<Option<String>> {
    draw(&dir.join(file), panels, cols)?;
    Ok(Some(format!("plots/{file}")))
}

/// The iteration budget's marker: its position and legend text (none under a time budget).
type Budget = Option<(f64, String)>;

/// calibration_iterations.svg: each algorithm's validation NMAE against the iteration.
fn calibration(dir: &Path, cal: &Calibration, budget: &Budget) -> Result<Option<String>> {
    if cal.curves.is_empty() {
        return Ok(None);
    }
    save(
        dir,
        "calibration_iterations.svg",
        &[Panel {
            title: "Calibration: validation NMAE vs iteration".into(),
            x_label: "iteration (log scale)".into(),
            y_label: "validation NMAE".into(),
            series: cal
                .curves
                .iter()
                .map(|c| iter_series(&c.method, &c.values))
                .collect(),
            log_x: true,
            vline: budget.clone(),
        }],
        1,
    )
}

/// convergence.svg: training RMSE and test NMAE against the iteration (repetition 0).
fn convergence(dir: &Path, tta: &[TimeCurve], budget: &Budget) -> Result<Option<String>> {
    if tta.is_empty() {
        return Ok(None);
    }
    save(
        dir,
        "convergence.svg",
        &[
            Panel {
                title: "Training RMSE (fitted ratings) vs iteration".into(),
                x_label: "iteration (log scale)".into(),
                y_label: "training RMSE".into(),
                series: tta
                    .iter()
                    .map(|t| iter_series(&t.method, &t.train_rmse))
                    .collect(),
                log_x: true,
                vline: budget.clone(),
            },
            Panel {
                title: "Test NMAE vs iteration (Model 1, repetition 0)".into(),
                x_label: "iteration (log scale)".into(),
                y_label: "test NMAE".into(),
                series: tta
                    .iter()
                    .map(|t| iter_series(&t.method, &t.test_nmae))
                    .collect(),
                log_x: true,
                vline: budget.clone(),
            },
        ],
        2,
    )
}

/// time_to_accuracy.svg: test NMAE against elapsed seconds (repetition 0).
fn time_to_accuracy(dir: &Path, tta: &[TimeCurve]) -> Result<Option<String>> {
    if tta.is_empty() {
        return Ok(None);
    }
    save(
        dir,
        "time_to_accuracy.svg",
        &[Panel {
            title: "Time to accuracy (Model 1, repetition 0)".into(),
            x_label: "elapsed seconds (log scale)".into(),
            y_label: "test NMAE".into(),
            series: tta
                .iter()
                .map(|t| Series {
                    name: t.method.clone(),
                    points: t
                        .elapsed_secs
                        .iter()
                        .zip(&t.test_nmae)
                        .skip(1)
                        .map(|(&x, &y)| (x, y))
                        .collect(),
                    dashed: false,
                    color: color_of(&t.method),
                })
                .collect(),
            log_x: true,
            vline: None,
        }],
        1,
    )
}

/// maps_vs_attack_size.svg: MAPS under Models 3 and 4 against the attack size.
fn attack_size(dir: &Path, summary: &Summary) -> Result<Option<String>> {
    if summary.attack_size.is_empty() {
        return Ok(None);
    }
    let methods = methods_in(summary.attack_size.iter().map(|p| p.method.as_str()));
    let series = |model: usize| -> Vec<Series> {
        methods
            .iter()
            .map(|m| Series {
                name: m.clone(),
                points: summary
                    .attack_size
                    .iter()
                    .filter(|p| &p.method == m)
                    .map(|p| {
                        let v = if model == 3 {
                            &p.low_knowledge
                        } else {
                            &p.informed
                        };
                        (100.0 * p.fraction, v.mean)
                    })
                    .collect(),
                dashed: false,
                color: color_of(m),
            })
            .collect()
    };
    save(
        dir,
        "maps_vs_attack_size.svg",
        &[
            Panel {
                title: "Model 3 (low-knowledge): MAPS vs attack size".into(),
                x_label: "adversaries, % of users".into(),
                y_label: "MAPS".into(),
                series: series(3),
                log_x: false,
                vline: None,
            },
            Panel {
                title: "Model 4 (informed): MAPS vs attack size".into(),
                x_label: "adversaries, % of users".into(),
                y_label: "MAPS".into(),
                series: series(4),
                log_x: false,
                vline: None,
            },
        ],
        2,
    )
}

type Pick = dyn Fn(&LambdaSummary) -> f64;
type RefPick = dyn Fn(&MethodRecord) -> f64;

/// lambda_sweep.svg: NMAE under Models 1 and 2 and MAPS under Models 3 and 4 against lambda,
/// with the missing variants as flat references.
fn lambda_sweep(
    dir: &Path,
    settings: &Settings,
    summary: &Summary,
    reps: &[RepRecord],
) -> Result<Option<String>> {
    if summary.lambda.is_empty() {
        return Ok(None);
    }
    let methods = methods_in(summary.lambda.iter().map(|p| p.method.as_str()));
    let lambdas: Vec<f64> = {
        let mut l: Vec<f64> = summary.lambda.iter().map(|p| p.lambda).collect();
        l.sort_by(f64::total_cmp);
        l.dedup();
        l
    };
    let swept: Vec<&RepRecord> = reps.iter().filter(|r| r.sweeps.is_some()).collect();
    let panel = |title: &str, y: &str, pick: &Pick, rpick: &RefPick| {
        let mut series: Vec<Series> = methods
            .iter()
            .map(|m| Series {
                name: m.clone(),
                points: summary
                    .lambda
                    .iter()
                    .filter(|p| &p.method == m)
                    .map(|p| (p.lambda, pick(p)))
                    .collect(),
                dashed: false,
                color: color_of(m),
            })
            .collect();
        series.extend(references(&swept, &lambdas, rpick));
        Panel {
            title: title.into(),
            x_label: "lambda".into(),
            y_label: y.into(),
            series,
            log_x: false,
            vline: Some((settings.lambda, "run's lambda".into())),
        }
    };
    save(
        dir,
        "lambda_sweep.svg",
        &[
            panel(
                "Model 1 (no noise): test NMAE vs lambda",
                "test NMAE",
                &|p| p.clean_nmae.mean,
                &|r| r.clean.accuracy.nmae,
            ),
            panel(
                "Model 2 (random noise): test NMAE vs lambda",
                "test NMAE",
                &|p| p.noisy_nmae.mean,
                &|r| r.random_noise.accuracy.nmae,
            ),
            panel(
                "Model 3 (low-knowledge): MAPS vs lambda",
                "MAPS",
                &|p| p.low_maps.mean,
                &|r| maps_of(&r.low_knowledge),
            ),
            panel(
                "Model 4 (informed): MAPS vs lambda",
                "MAPS",
                &|p| p.informed_maps.mean,
                &|r| maps_of(&r.informed),
            ),
        ],
        2,
    )
}

/// The missing variants do not depend on lambda: flat dashed references across the swept
/// `lambdas` at their mean over the sweep repetitions.
fn references(swept: &[&RepRecord], lambdas: &[f64], rpick: &RefPick) -> Vec<Series> {
    let reference = |method: &str, f: &RefPick| {
        let v: Vec<f64> = swept
            .iter()
            .filter_map(|r| r.paper.iter().find(|m| m.method == method))
            .map(f)
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let mut series = Vec::new();
    for a in Algorithm::ALL.iter().filter(|a| !a.needs_lambda()) {
        if let Some(v) = reference(a.name(), rpick) {
            series.push(Series {
                name: format!("{} (no lambda)", a.name()),
                points: vec![(lambdas[0], v), (lambdas[lambdas.len() - 1], v)],
                dashed: true,
                color: color_of(a.name()),
            });
        }
    }
    series
}

/// Distinct method names in order of first appearance.
fn methods_in<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if !out.iter().any(|m| m == n) {
            out.push(n.to_string());
        }
    }
    out
}

/// MAPS of an attack fit (NaN when it has none).
fn maps_of(f: &crate::records::FitRecord) -> f64 {
    f.shift.map_or(f64::NAN, |s| s.maps)
}
