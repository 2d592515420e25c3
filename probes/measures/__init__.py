"""The measures of each probe family, per checkpoint: detectors, ICL score, ablations, function vectors, attribution, writers, grokking, LLC."""
