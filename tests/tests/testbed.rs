//! Self-test of the test bed, no agent involved: two `ot-cli-ftd` nodes in one sandbox form and
//! join a network (proves process handling, CLI driving and the radio), and a node in another
//! sandbox with the same dataset stays alone (proves the PORT_OFFSET isolation).

use e2e::{with_sandbox, CliNode, Sandbox, Tlvs, ATTACH_TIMEOUT};

#[test]
fn two_cli_nodes_form_and_attach() {
    with_sandbox(two_cli_nodes_form_and_attach_in);
}

fn two_cli_nodes_form_and_attach_in(sb: &Sandbox) -> anyhow::Result<()> {
    let leader = CliNode::spawn(sb, 2)?;
    let joiner = CliNode::spawn(sb, 3)?;
    assert_eq!(leader.eui64()?.len(), 16);
    assert_eq!(leader.state()?, "disabled");

    let dataset = leader.form(ATTACH_TIMEOUT)?;
    let tlvs = Tlvs::from_hex(&dataset)?;
    assert_eq!(tlvs.require(e2e::dataset::NETWORK_KEY)?.len(), 16);

    joiner.attach_with_dataset(&dataset)?;
    let role = joiner.wait_state(&["child", "router"], ATTACH_TIMEOUT)?;
    eprintln!("joiner attached as {role}");

    // The leader sees the joiner as a child or router neighbour.
    let ext = joiner.extaddr()?;
    let table = leader.cmd("neighbor table")?.join("\n");
    assert!(
        table.contains(&ext),
        "leader's neighbor table lacks {ext}:\n{table}"
    );

    // Settings are kept inside the sandbox, named by the simulation's flash.c rule.
    assert!(sb
        .path()
        .join("tmp")
        .join(format!("{}_2.flash", sb.port_offset()))
        .exists());
    Ok(())
}

#[test]
fn sandboxes_do_not_hear_each_other() -> anyhow::Result<()> {
    let a = Sandbox::new()?;
    let b = Sandbox::new()?;
    assert_ne!(a.port_offset(), b.port_offset());
    let leader = CliNode::spawn(&a, 2)?;
    let dataset = leader.form(ATTACH_TIMEOUT)?;
    // Same node id as the leader, same dataset, other offset: it must form its own partition,
    // i.e. become leader itself, and the first leader must not see it.
    let stranger = CliNode::spawn(&b, 2)?;
    stranger.attach_with_dataset(&dataset)?;
    stranger.wait_state(&["leader"], ATTACH_TIMEOUT)?;
    let ext = stranger.extaddr()?;
    let table = leader.cmd("neighbor table")?.join("\n");
    assert!(
        !table.contains(&ext),
        "a node of another sandbox was heard:\n{table}"
    );
    Ok(())
}

#[test]
fn cli_errors_are_reported() {
    with_sandbox(cli_errors_are_reported_in);
}

fn cli_errors_are_reported_in(sb: &Sandbox) -> anyhow::Result<()> {
    let node = CliNode::spawn(sb, 2)?;
    let err = node.cmd("no-such-command").unwrap_err();
    assert!(err.to_string().contains("Error"), "{err}");
    // The node still answers afterwards.
    assert_eq!(node.state()?, "disabled");
    Ok(())
}

#[test]
fn a_panicking_test_leaves_no_process_and_keeps_its_dir() {
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::thread::spawn(move || {
        with_sandbox(|sb| {
            let node = CliNode::spawn(sb, 2)?;
            tx.send(sb.path().to_path_buf()).ok();
            assert!(node.id() == 2);
            // Simulate a failing assertion while the node runs.
            anyhow::bail!("deliberate failure (self-test of the harness; ignore this message)")
        })
    })
    .join();
    assert!(
        result.is_err(),
        "with_sandbox must turn an Err into a panic"
    );
    let dir = rx.recv().expect("the body ran");
    assert!(
        dir.exists(),
        "a failed test's sandbox must be kept for inspection"
    );
    assert!(
        dir.join("cli2-1.log").exists(),
        "the kept sandbox holds the node's log"
    );
    // No process is left with its working directory in the sandbox.
    assert_eq!(
        e2e::proc::kill_by_cwd(&dir),
        0,
        "a process outlived the failed test"
    );
    std::fs::remove_dir_all(&dir).expect("removing the kept sandbox");
}
