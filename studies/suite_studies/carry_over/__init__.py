"""The carry-over check: do the suite's explainer defaults hold on a model trained outside it?"""
