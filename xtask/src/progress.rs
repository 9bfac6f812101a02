//! Progress bars on stderr (hidden when stderr is not a terminal): one over repetitions, one
//! over fits with an ETA. Nothing is printed per iteration.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar style of every xtask progress bar, from an indicatif template.
pub fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("valid progress template")
        .progress_chars("=> ")
}

/// The run's two bars. Cheap to share between threads (`&Progress`).
pub struct Progress {
    multi: MultiProgress,
    reps: ProgressBar,
    fits: ProgressBar,
}

impl Progress {
    /// Bars for `reps` repetitions and `fits` fits in all.
    pub fn new(reps: u64, fits: u64) -> Progress {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let reps_bar = multi.add(ProgressBar::new(reps));
        reps_bar.set_style(style("{msg:14} [{bar:30}] {pos}/{len} repetitions"));
        reps_bar.set_message("calibration");
        let fits_bar = multi.add(ProgressBar::new(fits));
        fits_bar.set_style(style(
            "{msg:14} [{bar:30}] {pos}/{len} fits, {elapsed} elapsed, ETA {eta}",
        ));
        fits_bar.set_message("fits");
        Progress {
            multi,
            reps: reps_bar,
            fits: fits_bar,
        }
    }

    /// Names the current phase.
    pub fn phase(&self, name: &str) {
        self.reps.set_message(name.to_string());
    }

    /// One fit finished.
    pub fn fit_done(&self) {
        self.fits.inc(1);
    }

    /// Adds `n` fits to the total (known once calibration has chosen the settings).
    pub fn add_fits(&self, n: u64) {
        self.fits.inc_length(n);
    }

    /// One repetition finished.
    pub fn rep_done(&self) {
        self.reps.inc(1);
    }

    /// Runs `f` with the bars hidden (to print without garbling them).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.multi.suspend(f)
    }

    /// Removes the bars.
    pub fn finish(&self) {
        self.reps.finish_and_clear();
        self.fits.finish_and_clear();
    }
}
