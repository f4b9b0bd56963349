"""Reproductions of the founding papers' findings, each one command with one report.

* :mod:`scalinglab.reproduce.kaplan`: Kaplan et al. 2020's findings in miniature, trained here
  (``scalinglab reproduce kaplan``);
* :mod:`scalinglab.reproduce.chinchilla`: Hoffmann et al. 2022's approaches on the shipped
  digitised runs (``scalinglab reproduce chinchilla``);
* :mod:`scalinglab.reproduce.findings`: the finding record, the verdict rule and the page.
"""
