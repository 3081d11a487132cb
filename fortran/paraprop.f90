! The `paraprop` Fortran module: the inference API of paraprop/model.h through iso_c_binding.
! A model is loaded once (its seal and fingerprint verified), then predicts for any number of
! samples, stored one per column: inputs(n_inputs, n), outputs(n_outputs, n), which is the
! row-major (n, n_inputs) layout of the C API, so nothing is copied or transposed.
! Errors come back as a status (0 = success; the codes of docs/ERRORS.md) and a message.
module paraprop
  use, intrinsic :: iso_c_binding
  implicit none
  private

  public :: paraprop_model, paraprop_load, paraprop_predict, paraprop_free
  public :: paraprop_inputs, paraprop_outputs, paraprop_layers, paraprop_layer_size
  public :: paraprop_activation_name, paraprop_cost_name, paraprop_fingerprint, paraprop_argmax
  public :: PARAPROP_OK, PARAPROP_ERR_USAGE, PARAPROP_ERR_INPUT, PARAPROP_ERR_NOMEM

  ! pp_code values (include/paraprop/status.h)
  integer, parameter :: PARAPROP_OK = 0, PARAPROP_ERR_USAGE = 2, PARAPROP_ERR_INPUT = 3, &
                        PARAPROP_ERR_NOMEM = 6

  integer, parameter :: MSG_MAX = 480 ! PP_STATUS_MSG_MAX

  ! pp_status, returned by value
  type, bind(c) :: pp_status
    integer(c_int) :: code
    character(kind=c_char) :: msg(MSG_MAX)
  end type

  ! A loaded model; free it with paraprop_free.
  type :: paraprop_model
    type(c_ptr) :: ptr = c_null_ptr
  end type

  interface
    function c_load(path, model) bind(c, name="pp_model_load") result(st)
      import :: c_char, c_ptr, pp_status
      character(kind=c_char), intent(in) :: path(*)
      type(c_ptr), intent(out) :: model
      type(pp_status) :: st
    end function
    subroutine c_free(model) bind(c, name="pp_model_free")
      import :: c_ptr
      type(c_ptr), value :: model
    end subroutine
    function c_predict(model, inputs, n, outputs) bind(c, name="pp_model_predict") result(st)
      import :: c_ptr, c_float, c_size_t, pp_status
      type(c_ptr), value :: model
      real(c_float), intent(in) :: inputs(*)
      integer(c_size_t), value :: n
      real(c_float), intent(out) :: outputs(*)
      type(pp_status) :: st
    end function
    function c_argmax(model, row) bind(c, name="pp_model_argmax") result(k)
      import :: c_ptr, c_float, c_size_t
      type(c_ptr), value :: model
      real(c_float), intent(in) :: row(*)
      integer(c_size_t) :: k
    end function
    function c_inputs(model) bind(c, name="pp_model_inputs") result(n)
      import :: c_ptr, c_size_t
      type(c_ptr), value :: model
      integer(c_size_t) :: n
    end function
    function c_outputs(model) bind(c, name="pp_model_outputs") result(n)
      import :: c_ptr, c_size_t
      type(c_ptr), value :: model
      integer(c_size_t) :: n
    end function
    function c_layers(model) bind(c, name="pp_model_layers") result(n)
      import :: c_ptr, c_int
      type(c_ptr), value :: model
      integer(c_int) :: n
    end function
    function c_layer_size(model, l) bind(c, name="pp_model_layer_size") result(n)
      import :: c_ptr, c_int, c_size_t
      type(c_ptr), value :: model
      integer(c_int), value :: l
      integer(c_size_t) :: n
    end function
    function c_activation_name(model, l) bind(c, name="pp_model_activation_name") result(s)
      import :: c_ptr, c_int
      type(c_ptr), value :: model
      integer(c_int), value :: l
      type(c_ptr) :: s
    end function
    function c_cost_name(model) bind(c, name="pp_model_cost_name") result(s)
      import :: c_ptr
      type(c_ptr), value :: model
      type(c_ptr) :: s
    end function
    function c_fingerprint(model) bind(c, name="pp_model_fingerprint") result(s)
      import :: c_ptr
      type(c_ptr), value :: model
      type(c_ptr) :: s
    end function
    function c_strlen(s) bind(c, name="strlen") result(n)
      import :: c_ptr, c_size_t
      type(c_ptr), value :: s
      integer(c_size_t) :: n
    end function
  end interface

contains

  ! The status' message as a Fortran string.
  subroutine report(st, stat, errmsg)
    type(pp_status), intent(in) :: st
    integer, intent(out) :: stat
    character(len=*), intent(out), optional :: errmsg
    integer :: i
    stat = int(st%code)
    if (.not. present(errmsg)) return
    errmsg = ''
    do i = 1, min(MSG_MAX, len(errmsg))
      if (st%msg(i) == c_null_char) exit
      errmsg(i:i) = st%msg(i)
    end do
  end subroutine

  ! A C string (owned by the library) as a Fortran string.
  function c_string(p) result(s)
    type(c_ptr), intent(in) :: p
    character(len=:), allocatable :: s
    character(kind=c_char), pointer :: c(:)
    integer :: i, n
    n = int(c_strlen(p))
    call c_f_pointer(p, c, [n])
    allocate (character(len=n) :: s)
    do i = 1, n
      s(i:i) = c(i)
    end do
  end function

  ! Loads and verifies a model file (a checkpoint or final.h5). stat = 0 on success; otherwise
  ! the model stays unloaded and errmsg (if given) says why, naming the file.
  subroutine paraprop_load(model, path, stat, errmsg)
    type(paraprop_model), intent(inout) :: model
    character(len=*), intent(in) :: path
    integer, intent(out) :: stat
    character(len=*), intent(out), optional :: errmsg
    call paraprop_free(model)
    call report(c_load(trim(path)//c_null_char, model%ptr), stat, errmsg)
  end subroutine

  ! outputs(:, j) = the network's outputs for inputs(:, j); the bits of the C API and of
  ! `paraprop predict`. Safe to call from several threads with one model.
  subroutine paraprop_predict(model, inputs, outputs, stat, errmsg)
    type(paraprop_model), intent(in) :: model
    real(c_float), intent(in), contiguous :: inputs(:, :)
    real(c_float), intent(out), contiguous :: outputs(:, :)
    integer, intent(out) :: stat
    character(len=*), intent(out), optional :: errmsg
    integer :: nin, nout
    if (.not. c_associated(model%ptr)) then
      stat = PARAPROP_ERR_USAGE
      if (present(errmsg)) errmsg = 'paraprop_predict: the model is not loaded'
      return
    end if
    nin = paraprop_inputs(model)
    nout = paraprop_outputs(model)
    if (size(inputs, 1) /= nin .or. size(outputs, 1) /= nout .or. &
        size(inputs, 2) /= size(outputs, 2)) then
      stat = PARAPROP_ERR_USAGE
      if (present(errmsg)) write (errmsg, '(a,i0,a,i0,a)') 'paraprop_predict: expected &
        &inputs(', nin, ', n) and outputs(', nout, ', n)'
      return
    end if
    call report(c_predict(model%ptr, inputs, int(size(inputs, 2), c_size_t), outputs), stat, &
                errmsg)
  end subroutine

  subroutine paraprop_free(model)
    type(paraprop_model), intent(inout) :: model
    if (c_associated(model%ptr)) call c_free(model%ptr)
    model%ptr = c_null_ptr
  end subroutine

  integer function paraprop_inputs(model)
    type(paraprop_model), intent(in) :: model
    paraprop_inputs = int(c_inputs(model%ptr))
  end function

  integer function paraprop_outputs(model)
    type(paraprop_model), intent(in) :: model
    paraprop_outputs = int(c_outputs(model%ptr))
  end function

  ! L, the number of weight layers.
  integer function paraprop_layers(model)
    type(paraprop_model), intent(in) :: model
    paraprop_layers = int(c_layers(model%ptr))
  end function

  ! Neurons of layer l (0 = inputs … L = outputs); 0 out of range.
  integer function paraprop_layer_size(model, l)
    type(paraprop_model), intent(in) :: model
    integer, intent(in) :: l
    paraprop_layer_size = int(c_layer_size(model%ptr, int(l, c_int)))
  end function

  ! 'sigmoid', 'tanh', 'relu', 'identity' or 'softmax' for layer l in 1 … L; '' otherwise.
  function paraprop_activation_name(model, l) result(s)
    type(paraprop_model), intent(in) :: model
    integer, intent(in) :: l
    character(len=:), allocatable :: s
    s = c_string(c_activation_name(model%ptr, int(l, c_int)))
  end function

  function paraprop_cost_name(model) result(s)
    type(paraprop_model), intent(in) :: model
    character(len=:), allocatable :: s
    s = c_string(c_cost_name(model%ptr))
  end function

  ! The SHA-256 fingerprint of the parameters (64 hex digits).
  function paraprop_fingerprint(model) result(s)
    type(paraprop_model), intent(in) :: model
    character(len=:), allocatable :: s
    s = c_string(c_fingerprint(model%ptr))
  end function

  ! The predicted class of one sample's outputs, numbered from 0 like the labels.
  integer function paraprop_argmax(model, outputs)
    type(paraprop_model), intent(in) :: model
    real(c_float), intent(in) :: outputs(:)
    paraprop_argmax = int(c_argmax(model%ptr, outputs))
  end function

end module paraprop
