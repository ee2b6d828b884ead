"""Exports as jobs: a staff member asks for a workbook (the register, the statistics, the filtered inbox, the audit
log), the request answers at once with an export page (303 ``/exports/<id>``), the export runner (a thread of the
notify worker) writes the workbook as its rows stream and keeps it sealed, the page shows the progress and then a
download link, and the file is deleted once fetched or when ``QZBG_EXPORT_KEEP_MINUTES`` pass. Asking for the same
export again while it runs or waits returns the same export.

The features say what each kind writes (``kinds.register`` at import: a writer function and the permission it
needs); this package knows nothing of what is in the workbooks.
"""
