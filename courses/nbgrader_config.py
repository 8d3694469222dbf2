"""nbgrader settings shared by every SafeTrain module.

Only course-content settings live here. Paths (course root, gradebook, exchange) are set by
`safetrain course ...` from the instance directory, so this file works for any instance.
"""

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "safetrain"

# Answer cells keep the line above the solution region (e.g. `q01 = ""`), so the stub is
# only a hint and never raises: an unanswered item scores 0 without breaking later cells.
c.ClearSolutions.code_stub = {"python": "# 在这里作答（修改上一行）", "markdown": "在这里作答"}
c.ClearSolutions.text_stub = "在这里作答"

# Each cell gets a bounded run when the autograder executes a notebook.
c.ExecutePreprocessor.timeout = 60
