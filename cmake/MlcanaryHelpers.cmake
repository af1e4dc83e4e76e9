# mlcanary_cc_library(NAME HDRS SRCS DEPS PRIVATE_DEPS): one component, one
# target `mlcanary_<NAME>` with alias `mlcanary::<NAME>`. Include root is src/.
function(mlcanary_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "HDRS;SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  set(target mlcanary_${ARG_NAME})
  if(ARG_SRCS)
    add_library(${target} STATIC ${ARG_SRCS} ${ARG_HDRS})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${target} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  else()
    add_library(${target} INTERFACE ${ARG_HDRS})
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${target} INTERFACE ${ARG_DEPS})
  endif()
  add_library(mlcanary::${ARG_NAME} ALIAS ${target})
endfunction()

# mlcanary_cc_test(NAME SRCS DEPS [LABELS ...] [TIMEOUT s] [WHOLE_BINARY]): a
# GoogleTest binary registered with CTest. Its tests are labelled "unit", or
# "moto" when they run against the moto harness of test/aws (python), unless
# LABELS names others: `ctest -L unit` runs the C++ tests that need nothing but
# the build (make test-asan). WHOLE_BINARY registers one CTest test for the
# binary instead of one per gtest case, for a binary that starts a server
# (PostgreSQL, Prometheus) once for all its cases.
function(mlcanary_cc_test)
  cmake_parse_arguments(ARG "WHOLE_BINARY" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT MLCANARY_BUILD_TESTS)
    return()
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  set(labels unit)
  if(ARG_LABELS)
    set(labels ${ARG_LABELS})
  elseif(mlcanary::moto_fixture IN_LIST ARG_DEPS)
    set(labels moto)
  endif()
  set(properties ENVIRONMENT "MLCANARY_SOURCE_DIR=${PROJECT_SOURCE_DIR}" LABELS "${labels}")
  if(ARG_TIMEOUT)
    list(APPEND properties TIMEOUT ${ARG_TIMEOUT})
  endif()
  if(ARG_WHOLE_BINARY)
    add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
    set_tests_properties(${ARG_NAME} PROPERTIES ${properties})
  else()
    gtest_discover_tests(${ARG_NAME} DISCOVERY_TIMEOUT 30 PROPERTIES ${properties})
  endif()
endfunction()

# mlcanary_cc_benchmark(NAME SRCS DEPS): a Google Benchmark binary.
function(mlcanary_cc_benchmark)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  if(NOT MLCANARY_BUILD_BENCH)
    return()
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} benchmark::benchmark)
endfunction()
