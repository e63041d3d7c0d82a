//! What a script sees from the `automix` binary: `docs add` exits 3 when some files could not be
//! indexed (0 when all were, 1 on any other error), and `budget set` refuses what no one means
//! and reads a cap of 0 as "nothing allowed".

use std::path::Path;
use std::process::{Command, Output};

fn automix(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_automix")).env("AUTOMIX_HOME", home).args(args).output().expect("the automix binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn docs_add_says_with_its_exit_code_whether_every_file_was_indexed() {
    let home = tempfile::tempdir().unwrap();
    // The embedder stays where `make test` installed it.
    std::os::unix::fs::symlink(automix::models::ModelStore::from_env().root(), home.path().join("models")).unwrap();
    let docs = tempfile::tempdir().unwrap();
    let good = docs.path().join("good.md");
    std::fs::write(&good, "# Harbour Lane\n\nThe library opens at nine on Saturdays.\n").unwrap();
    let broken = docs.path().join("broken.pdf");
    std::fs::write(&broken, b"%PDF-1.7\nnot really a PDF").unwrap();

    let mixed = automix(home.path(), &["docs", "add", good.to_str().unwrap(), broken.to_str().unwrap()]);
    assert_eq!(mixed.status.code(), Some(3), "stdout: {}\nstderr: {}", text(&mixed.stdout), text(&mixed.stderr));
    assert!(text(&mixed.stdout).contains("good.md: added"), "{}", text(&mixed.stdout));
    assert!(text(&mixed.stdout).contains("broken.pdf: FAILED"), "{}", text(&mixed.stdout));
    assert!(text(&mixed.stderr).contains("1 file(s) could not be indexed"), "{}", text(&mixed.stderr));

    let other = docs.path().join("other.md");
    std::fs::write(&other, "Story time is on Wednesdays at four.\n").unwrap();
    let clean = automix(home.path(), &["docs", "add", other.to_str().unwrap()]);
    assert_eq!(clean.status.code(), Some(0), "stderr: {}", text(&clean.stderr));

    let missing = automix(home.path(), &["docs", "remove", "no-such-document"]);
    assert_eq!(missing.status.code(), Some(1), "any other error: {}", text(&missing.stderr));
}

#[test]
fn budget_set_refuses_nonsense_and_a_zero_cap_allows_nothing() {
    let home = tempfile::tempdir().unwrap();
    for bad in ["--monthly=NaN", "--monthly=-1", "--cap=inf"] {
        let refused = automix(home.path(), &["budget", "set", bad]);
        assert_eq!(refused.status.code(), Some(1), "{bad:?}: {}", text(&refused.stdout));
        assert!(text(&refused.stderr).contains("must be a number from 0 to"), "{bad:?}: {}", text(&refused.stderr));
    }
    let shown = automix(home.path(), &["budget", "show"]);
    assert!(text(&shown.stdout).contains("budget: 5"), "the refused values changed nothing: {}", text(&shown.stdout));

    let zero_cap = automix(home.path(), &["budget", "set", "--cap", "0"]);
    assert!(zero_cap.status.success(), "{}", text(&zero_cap.stderr));
    assert!(text(&zero_cap.stdout).contains("per-answer cap 0"), "a zero cap is kept as a cap: {}", text(&zero_cap.stdout));
    let removed = automix(home.path(), &["budget", "set", "--no-cap"]);
    assert!(removed.status.success() && !text(&removed.stdout).contains("per-answer cap"), "{}", text(&removed.stdout));
}
