# The event codes' journal MESSAGE_IDs and journald catalog, generated at build
# time from docs/events.md (the one list of codes) by gen_event_catalog.cmake:
#   <build>/app/generated/soleus/app/event_message_ids.hpp   (soleusd's table)
#   <build>/app/soleus.catalog                               (journalctl -x)
# Included by app/CMakeLists.txt after soleus_app is defined.
set(SOLEUS_EVENT_IDS_HPP ${CMAKE_CURRENT_BINARY_DIR}/generated/soleus/app/event_message_ids.hpp)
set(SOLEUS_EVENT_CATALOG ${CMAKE_CURRENT_BINARY_DIR}/soleus.catalog)
set(SOLEUS_CATALOG_SUPPORT "the machine's supplier; the codes are explained in /usr/share/doc/soleus"
  CACHE STRING "The Support: line of the journal catalog's entries")
add_custom_command(
  OUTPUT ${SOLEUS_EVENT_IDS_HPP} ${SOLEUS_EVENT_CATALOG}
  COMMAND ${CMAKE_COMMAND} -DEVENTS_MD=${PROJECT_SOURCE_DIR}/docs/events.md
          -DOUT_HPP=${SOLEUS_EVENT_IDS_HPP} -DOUT_CATALOG=${SOLEUS_EVENT_CATALOG}
          -DSUPPORT=${SOLEUS_CATALOG_SUPPORT}
          -P ${CMAKE_CURRENT_LIST_DIR}/gen_event_catalog.cmake
  DEPENDS ${PROJECT_SOURCE_DIR}/docs/events.md ${CMAKE_CURRENT_LIST_DIR}/gen_event_catalog.cmake
  COMMENT "docs/events.md -> event MESSAGE_IDs and soleus.catalog"
  VERBATIM)
add_custom_target(soleus-event-catalog ALL DEPENDS ${SOLEUS_EVENT_IDS_HPP} ${SOLEUS_EVENT_CATALOG})
target_sources(soleus_app PRIVATE ${SOLEUS_EVENT_IDS_HPP})
target_include_directories(soleus_app PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/generated)
add_dependencies(soleus_app soleus-event-catalog)

# Installed where systemd's pkg-config file says catalogs go (Debian 12:
# /usr/lib/systemd/catalog); journald's postinst trigger or
# `journalctl --update-catalog` builds the database from it.
pkg_get_variable(SOLEUS_SYSTEMD_CATALOGDIR systemd catalogdir)
if(NOT SOLEUS_SYSTEMD_CATALOGDIR)
  set(SOLEUS_SYSTEMD_CATALOGDIR /usr/lib/systemd/catalog)
endif()
install(FILES ${SOLEUS_EVENT_CATALOG} DESTINATION ${SOLEUS_SYSTEMD_CATALOGDIR})
