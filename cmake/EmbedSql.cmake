# Turns the .sql files of a backend into a header of named constants at build time, so that
# SQL stays in .sql files and no query text is written inline in C++.
#   migrations/NNN_name.sql -> kMigrations[] = {{NNN, "name", "<sql>"}, ...} in order
#   queries/job_fetch.sql   -> kJobFetch = "<sql>"
# A line "-- include: NAME.sql" in a query is replaced by queries/fragments/NAME.sql: a piece of
# SQL that several queries share (such as which jobs a fetch may take), kept in one place.
function(spindle_embed_sql target)
  cmake_parse_arguments(ARG "" "OUTPUT;NAMESPACE;MIGRATIONS;QUERIES" "" ${ARGN})
  file(GLOB migrations CONFIGURE_DEPENDS ${ARG_MIGRATIONS}/*.sql)
  file(GLOB queries CONFIGURE_DEPENDS ${ARG_QUERIES}/*.sql)
  file(GLOB fragments CONFIGURE_DEPENDS ${ARG_QUERIES}/fragments/*.sql)
  add_custom_command(
    OUTPUT ${ARG_OUTPUT}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${ARG_OUTPUT} -DNAMESPACE=${ARG_NAMESPACE}
            -DMIGRATIONS_DIR=${ARG_MIGRATIONS} -DQUERIES_DIR=${ARG_QUERIES}
            -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/EmbedSqlScript.cmake
    DEPENDS ${migrations} ${queries} ${fragments} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/EmbedSqlScript.cmake
    COMMENT "Embedding SQL into ${ARG_OUTPUT}")
endfunction()
