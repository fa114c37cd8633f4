"""The deployer: small verbs over CloudFormation change sets, driven by `deploy.py`.

It reads what `generate.py` wrote to `build/<env>/` and never imports `templates/`.
"""
