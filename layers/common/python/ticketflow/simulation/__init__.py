"""What-if replays ("simulations"): stored tickets through classification, routing and SLA,
once under a proposed configuration and once under the live one, without side effects.

    rules = replay.Rules.build(documents)      # once per run (per container: cached)
    outcome = replay.replay(ticket, rules, now=as_of)
    runs.start(actor, request)                 # POST /admin/simulations: store, enqueue
    runs.process(envelope)                     # the simulate queue: one slice of tickets
"""
