"""(docstring written in stage 2)"""
