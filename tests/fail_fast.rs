//! Fail fast (issue 4): a panic in any actor stops the whole process with a non-zero exit and a
//! log line, instead of leaving a half-alive exchange. The test re-runs itself as a child
//! process that installs `perpx::app::fail_fast`, starts an actor on its own arbiter and makes it
//! panic; the parent checks the child's exit status and output.

use std::process::Command;

use actix::prelude::*;

struct Fragile;

impl Actor for Fragile {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
struct Break;

impl Handler<Break> for Fragile {
    type Result = ();

    fn handle(&mut self, _: Break, _: &mut Self::Context) {
        panic!("an invariant broke inside an actor");
    }
}

const CHILD: &str = "PERPX_FAIL_FAST_CHILD";

fn child() -> ! {
    perpx::app::fail_fast();
    actix::System::new().block_on(async {
        let arbiter = Arbiter::new();
        let addr = Fragile::start_in_arbiter(&arbiter.handle(), |_| Fragile);
        addr.do_send(Break);
        // The hook exits the process from the arbiter's thread; this only bounds the wait.
        actix::clock::sleep(std::time::Duration::from_secs(30)).await;
    });
    // Reaching this means the panic did not stop the process.
    std::process::exit(0);
}

#[test]
fn a_panicking_actor_stops_the_process() {
    if std::env::var_os(CHILD).is_some() {
        child();
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_panicking_actor_stops_the_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(70),
        "exit status; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("an invariant broke inside an actor"),
        "the panic is reported:\n{stderr}"
    );
}
