"""What a run costs on AWS (``stepkit cost``) and how a workflow scales under AWS's quotas
(``stepkit simulate``). Prices and quotas are dated data files in ``stepkit/data``."""
