console.log("codex-orchestrator: not built yet")
