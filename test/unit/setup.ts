// Unit tests exercise failure paths on purpose; their expected ERROR and WARN logs would bury real output.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
