"""Reading a stored study back: its report (counts, best trials, stages, importances, diagnosis)
in the terminal and as HTML, and the search's plots."""
