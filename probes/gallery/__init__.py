"""The reproduction gallery: each paper's headline result beside ours, with a verdict over seeds
(`icl-workbench reproduce NAME`)."""
