//! What the `automix` binary logs to stderr: warnings always, each question's steps (with the
//! router's decision and its reason) with `-v`, whatever `AUTOMIX_LOG` asks for instead.

use std::path::Path;
use std::process::{Command, Output};

fn automix(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_automix"));
    command.env("AUTOMIX_HOME", home).env_remove("AUTOMIX_LOG").args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the automix binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn v_is_accepted_anywhere_and_warnings_reach_stderr_without_it() {
    let home = tempfile::tempdir().unwrap();
    for args in [&["-v", "budget", "show"][..], &["-vv", "budget", "show"], &["budget", "show", "-vvv"], &["--verbose", "budget", "show"]] {
        let shown = automix(home.path(), &[], args);
        assert!(shown.status.success(), "{args:?}: {}", text(&shown.stderr));
        assert!(text(&shown.stdout).contains("budget: "), "{args:?}: {}", text(&shown.stdout));
    }

    // A filter that cannot be read is a warning, shown at the default level, and the command runs.
    let warned = automix(home.path(), &[("AUTOMIX_LOG", "automix=loud")], &["budget", "show"]);
    assert!(warned.status.success(), "{}", text(&warned.stderr));
    let stderr = text(&warned.stderr);
    assert!(stderr.contains("WARN") && stderr.contains("AUTOMIX_LOG=\"automix=loud\" is not a log filter"), "{stderr}");
    assert!(text(&warned.stdout).contains("budget: "), "stdout stays the command's: {}", text(&warned.stdout));
}

#[test]
fn v_shows_each_step_of_a_question_with_the_decision_and_its_reason() {
    let home = tempfile::tempdir().unwrap();
    // The models stay where `make test` installed them.
    std::os::unix::fs::symlink(automix::models::ModelStore::from_env().root(), home.path().join("models")).unwrap();
    let context = home.path().join("harbour.md");
    std::fs::write(&context, "# Harbour Lane library\n\nThe library opens at nine on Saturdays.\n").unwrap();
    let ask = |verbose: &[&str], env: &[(&str, &str)]| {
        let mut args = verbose.to_vec();
        args.extend(["ask", "When does the library open on Saturdays?", "--context", context.to_str().unwrap()]);
        let output = automix(home.path(), env, &args);
        assert!(output.status.success(), "{args:?}: {}", text(&output.stderr));
        text(&output.stderr)
    };

    // An engine warning (the kernels' override named nothing known) is shown; its info is not.
    let quiet = ask(&[], &[("AUTOMIX_CPU_KERNELS", "bogus")]);
    assert!(quiet.contains("WARN") && quiet.contains("AUTOMIX_CPU_KERNELS is not"), "warnings are shown by default: {quiet}");
    assert!(!quiet.contains("INFO"), "only warnings by default: {quiet}");
    let verbose = ask(&["-v"], &[]);
    for step in ["retrieve{", "answer{", "verify{", "route{"] {
        assert!(verbose.lines().any(|line| line.contains("question{conversation_id=") && line.contains(step)), "{step} in: {verbose}");
    }
    let routed = verbose.lines().find(|line| line.contains(": routed ")).unwrap_or_else(|| panic!("no decision in: {verbose}"));
    assert!(routed.contains("INFO") && routed.contains("decision=\"stay_local\"") && routed.contains("reason=no remote model is configured"), "{routed}");
    assert!(!verbose.contains("DEBUG"), "-v is info: {verbose}");
    // (The command's own lines on stderr show the passages; the log does not.)
    let log: Vec<&str> = verbose.lines().filter(|line| line.contains("INFO") || line.contains("WARN")).collect();
    assert!(log.iter().all(|line| !line.contains("Saturdays") && !line.contains("Harbour")), "neither the question nor the text is logged: {log:#?}");
}
