"""Detection in bulk: whole files of summaries, their formats in and out, and the demo data set."""
