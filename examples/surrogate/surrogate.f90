! The surrogate from Fortran: load the model, evaluate all rows of a CSV in one call.
! usage: surrogate_f MODEL.h5 INPUTS.csv   (a header line, then x1,x2,x3[,…] per row)
program surrogate_f
  use, intrinsic :: iso_c_binding, only: c_float, c_double
  use paraprop
  implicit none
  type(paraprop_model) :: model
  character(len=1024) :: path, csv
  character(len=480) :: msg
  real(c_double), allocatable :: row(:)
  real(c_float), allocatable :: x(:, :), y(:, :)
  integer :: stat, u, n, i, d, k, ios

  call get_command_argument(1, path)
  call get_command_argument(2, csv)
  call paraprop_load(model, path, stat, msg)
  if (stat /= PARAPROP_OK) then
    write (*, '(a)') 'surrogate_f: '//trim(msg)
    error stop 1
  end if
  d = paraprop_inputs(model)
  k = paraprop_outputs(model)

  open (newunit=u, file=csv, status='old', action='read')
  n = -1 ! the header
  do
    read (u, *, iostat=ios)
    if (ios /= 0) exit
    n = n + 1
  end do
  rewind (u)
  read (u, *)
  allocate (row(d), x(d, n), y(k, n))
  do i = 1, n
    ! to double, then float: what paraprop's CSV reader does (strtod, then a cast)
    read (u, *) row
    x(:, i) = real(row, c_float)
  end do
  close (u)

  ! one sample per column; all rows in one call
  call paraprop_predict(model, x, y, stat, msg)
  if (stat /= PARAPROP_OK) then
    write (*, '(a)') 'surrogate_f: '//trim(msg)
    error stop 1
  end if
  do i = 1, n
    write (*, '(*(es17.9e3,:,","))') y(:, i)
  end do
  call paraprop_free(model)
end program
