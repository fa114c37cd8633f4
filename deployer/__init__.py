"""The deployer: small verbs over CloudFormation change sets, driven by `deploy.py`.

It reads what `generate.py` wrote to `build/<env>/` and never imports `templates/`.

    manifest    build/<env>/manifest.json -> Manifest, StackSpec (shape: ../manifest.py)
    session     one botocore session, each client created once, adaptive retries
    preflight   credentials (resolved locally), what the account must have, the image in ECR
    params      parameters: manifest values, other stacks' resources, hosted zone, NoEcho env
    changeset   create (named from git rev + content digest, reused only with the same
                digest), wait, read, empty?, execute, delete
    drift       the stack's drift before its review: detect, wait (bounded), drifted resources
    review      the change-set review as data (JSON is the same data)
    review_text the review as text; markdown: as Markdown for a pull-request comment
    risk        what widens access or loses data: RISKY, or declared by the template (the
                one Metadata key of ../accepted.py)
    intrinsics  CloudFormation values as a person writes them (${X.Arn}, !Ref X)
    replacement replacement predicted from cfn-lint's resource schemas (create-only props)
    follow      events since the operation's start, once each; stale reads; root cause; ECS
                reasons read as each failure arrives
    rollout     the ECS deployment while the service stack changes: a progress line, failed tasks
    states      what a settled stack's state asks of the next deploy (delete, continue rollback)
    operate     the verbs on an operation under way: follow, cancel, continue-rollback
    advice      next steps as our make verbs, with the AWS CLI command beside them
    outputs     stack outputs, or the template's evaluated from the stack's resources
    status      named predicates over stack and change-set statuses
    poll        backoff with jitter, the following cadence, deadlines
    run         the per-stack flow that sequences the verbs above
    together    every plan shown, one question, then the graph; plans computed side by side
    graph       confirmed plans applied over the stacks' dependencies, --concurrency at once
    parallel    work side by side, each item's lines written as one block in order
    output      every line under one lock; a thread's lines prefixed, or held for its block
    postdeploy  after the service stack: rollout summary, verify, smoke, the tag recorded
    verify      alarm states and the paging subscriptions (PendingConfirmation)
    smoke       GET /_health until it answers the deployed version, or why it cannot
    rollback    the deployed tags' record (SSM parameter history) and the rollback change set
    service_status  `make status`: the service on one screen, as data
    lock        one deploy of an environment at a time (flock, inherited by local_aws.py's runs)
    errors      domain exceptions; only deploy.main() maps them to exit codes
"""
