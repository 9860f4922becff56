"""Video files on disk: stills for records (``frames``, kept by ``stills_cache``), the
camera's measured motion (``motion_estimate``) judged against the prompt (``camera_motion``),
clip quality (``quality``) and stitching clips into one."""
